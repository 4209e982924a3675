"""Install the ICM reference codec suite under the single import namespace ``icm``.

The design card keeps the VTM-like folders ``common/``, ``encoder/``, ``decoder/``, ``anchors/``,
``cfg/`` and ``ctc_scripts/`` at the top of the repository; each is installed as ``icm.<folder>``
so that no generic top-level package (``common``) lands in a user's site-packages.
"""
from setuptools import setup

FOLDERS = ["common", "encoder", "decoder", "anchors", "ctc_scripts", "cfg"]


def _packages():
    import os

    found = []
    for folder in FOLDERS:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
            if "__init__.py" in files:
                found.append("icm." + root.replace(os.sep, "."))
    return found


PACKAGES = _packages()

setup(
    name="icm-codec",
    version="0.1.0",
    description="Reference codec suite for image and feature coding for machines (VCM/FCM style)",
    python_requires=">=3.11",
    packages=PACKAGES,
    package_dir={pkg: pkg[len("icm."):].replace(".", "/") for pkg in PACKAGES},
    package_data={"icm.cfg": ["*.yaml", "**/*.yaml"], "icm.common": ["models/weights/*.pt", "models/weights/*.npz"]},
    install_requires=[
        "torch>=2.1",
        "numpy",
        "click",
        "pycocotools",
        "scipy",
        "range-coder",
        "pyyaml",
        "imageio-ffmpeg",
        "pillow",
        "matplotlib",
    ],
    extras_require={"test": ["pytest"], "torchvision": ["torchvision"],
                    # icm-ctc run --backend dask: the CTC's items on a Dask cluster (docs/ctc.md)
                    "distributed": ["distributed>=2026.8.0"]},
    entry_points={
        "console_scripts": [
            "icm-enc=icm.encoder.app:main",
            "icm-dec=icm.decoder.app:main",
            "icm-ctc=icm.ctc_scripts.ctc.cli:main",
            "icm-conform=icm.ctc_scripts.conformance.cli:main",
        ]
    },
)
