#!/usr/bin/env bash
# The recipe of the ci-icm models (one variable-rate model per structure; docs in train_ci_icm.py).
# Every step resumes where it stopped when the script is run again (a finished run is skipped), so the
# whole recipe is one resumable command:
#
#   bash ctc_scripts/training/train_ci_icm.sh                  # CPU, one thread per run, runs one after another
#   DEVICE=cuda bash ctc_scripts/training/train_ci_icm.sh      # on a GPU
#   THREADS=2 bash ctc_scripts/training/train_ci_icm.sh
#   PART=main bash ctc_scripts/training/train_ci_icm.sh        # only the main model and its adapters
#   PART=ablations bash ctc_scripts/training/train_ci_icm.sh   # only the baseline and the ablations
#
# The two parts share no run, so on a machine with two cores they can run side by side, one process each
# (PART=main and PART=ablations); the default (PART=all) runs both, one after the other.
#
# Order: the main model first (stage 1 rate + MSE, stage 2 task-aware), its two TSCA adapters, then the
# baseline and the ablations, each with its own shorter schedule and a reference of the same length.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-out/ci_icm}
R=$OUT/runs
T="$PY -m icm.ctc_scripts.training.train_ci_icm"
DEV="--device ${DEVICE:-cpu} --threads ${THREADS:-1}"
LOG="--log-every 25 --save-every 100"
PART=${PART:-all}
case $PART in all|main|ablations) ;; *) echo "PART must be all, main or ablations, not '$PART'" >&2; exit 2;; esac
# stage 1: rate + picture MSE, no detector (192x192 patches of augmented 320x320 views, batch 8)
PRE="--stage pre --lr 1e-3 --warmup-steps 100 --rate-warmup 200 --val-every 500 $LOG $DEV"
# stage 2: task-aware (the frozen XL detector distilled), on whole 320x320 views (what the codec codes; 192x192
# patches lowered the detector term on patches but raised it on whole pictures), batch 4, a lower learning rate
# than stage 1's peak (5e-4 raised the held-out task distortion in the first 500 steps)
TASK="--stage task --patch 320 --batch 4 --lr 1e-4 --warmup-steps 100 --val-every 500 $LOG $DEV"
# TSCA adapters: codec frozen; the second starts from the first run (whose XL adapter it keeps, frozen), so
# its run holds the codec and both adapters: the shipped ci-icm.npz is its export. Whole 320x320 views, as
# stage 2 (on 192x192 patches the XL adapter lowered T on patches but raised it on whole held-out pictures at
# qualities 3 to 6 after 500 steps). The adapted picture is for its detector alone (the plain one serves people):
# w_mse 0.1 makes T dominate D; with stage 2's w_mse 1 (the codec's own objective, which the plain picture already
# minimises for the XL detector) the XL adapter changed T by less than 2 % in 500 steps
ADAPT="--phase adapter --patch 320 --batch 4 --w-mse 0.1 --lr 1e-3 --warmup-steps 20 --steps 600 --val-every 300 $LOG $DEV"

run() {  # run NAME ARGS...: train into $R/NAME unless it is finished
    local name=$1; shift
    [ -f "$R/$name/done" ] && return 0
    mkdir -p "$R"
    echo "$(date -Is) training $name" >&2
    $T train --run "$R/$name" "$@" >> "$R/$name.log" 2>&1
    echo "$(date -Is) trained $name" >&2
}

# the main model
if [ "$PART" != ablations ]; then
run pre --steps 8000 $PRE
run main --init "$R/pre" --steps 4000 $TASK
run ad_xl --init "$R/main" --task-network yolo-fastest-1.1-xl $ADAPT
run ad_yf --init "$R/ad_xl" --task-network yolo-fastest-1.1 $ADAPT
fi
# baseline and ablations: stage 1 1,500 steps, stage 2 2,000 steps each; "short" is the main structure on the
# same schedule (the reference of the ablations)
[ "$PART" = main ] && exit 0
for pair in short: baseline:--baseline noorder:--no-order nogain:--no-group-gains noctx:--no-ctx; do
    name=${pair%%:*}; flag=${pair#*:}
    run "${name}_pre" --steps 1500 $flag $PRE
    run "$name" --init "$R/${name}_pre" --steps 2000 $flag $TASK
done
