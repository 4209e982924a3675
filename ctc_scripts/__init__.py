"""icm.ctc_scripts: scripts around the codec, one sub-package per purpose.

``ctc/`` the common test conditions harness (``icm-ctc``); ``training/`` the training of learned tools;
``studies/`` benchmarks and studies; ``conformance/`` the generation of the conformance streams.
"""
