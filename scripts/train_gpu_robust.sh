#!/usr/bin/env bash
# Third GPU stage (issue 8): the same distillation recipe as scripts/train_gpu_kd.sh, now with
# the resampling/JPEG augmentations (a Pillow perturbation bank) on teacher and students.
# Conventions as scripts/train_gpu.sh; QUICK=1 is a one-epoch CPU smoke test of the pipeline.
# Measured on an H200 (cold machine): data ready 57 s, teacher 30 epochs at ~47k img/s, students
# at ~38-40k img/s each (two at once); with 40 student epochs a 265 s limit cut them at epoch 30,
# so students now run 30 epochs: give the whole script a limit of at least 330 s.
source "$(dirname "$0")/gpu_common.sh"
if [ "${QUICK:-0}" = 1 ]; then E_T=1; E_S=1; EXTRA="--max-train-images 2000"; else E_T=30; E_S=30; EXTRA=""; fi
common="--data $DATA --no-progress --patience 0 --batch-size 512 $EXTRA"
AUG="--aug-resize-p 0.4 --aug-jpeg-p 0.4 --aug-blur-p 0.05 --aug-noise-p 0.05"
AUG2="--aug-resize-p 0.6 --aug-jpeg-p 0.5 --aug-blur-p 0.1 --aug-noise-p 0.1"
run teacher_r 130 --model resnet18_32 --epochs $E_T --lr 2e-3 --time-limit-min 1.4 $AUG
run kd_r1 130 --model synthcnn --epochs $E_S --teacher "$R/teacher_r/model.pt" --distill-alpha 0.7 --time-limit-min 1.6 $AUG &
run kd_r2 130 --model synthcnn --epochs $E_S --teacher "$R/teacher_r/model.pt" --distill-alpha 0.7 --time-limit-min 1.6 $AUG2 &
wait
tar czf "$OUT/runs.tar.gz" "$R"/*.log "$R"/*.txt "$R"/*/metrics.json "$R"/*/history.csv "$R"/*/config.yaml \
  "$R"/kd_r1/model.pt "$R"/kd_r2/model.pt 2>/dev/null
cp "$R"/teacher_r/model.pt "$OUT/teacher_r.pt" 2>/dev/null
cat "$R/timeline.txt"
