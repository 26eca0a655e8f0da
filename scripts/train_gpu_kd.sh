#!/usr/bin/env bash
# Second GPU stage: a ResNet-18 teacher, then the compact synthcnn distilled from it
# (and a plain label-smoothed synthcnn beside it). Same conventions as scripts/train_gpu.sh.
source "$(dirname "$0")/gpu_common.sh"
if [ "${QUICK:-0}" = 1 ]; then E_T=1; E_S=1; EXTRA="--max-train-images 2000"; else E_T=30; E_S=60; EXTRA=""; fi
common="--data $DATA --no-progress --patience 0 --batch-size 512 $EXTRA"
run teacher 150 --model resnet18_32 --epochs $E_T --lr 2e-3
run kd 200 --model synthcnn --epochs $((E_S * 2 / 3 > 0 ? E_S * 2 / 3 : 1)) --teacher "$R/teacher/model.pt" --distill-alpha 0.7 &
run s_ls 200 --model synthcnn --epochs $E_S --label-smoothing 0.1 &
wait
tar czf "$OUT/runs.tar.gz" "$R"/*.log "$R"/*.txt "$R"/*/metrics.json "$R"/*/history.csv "$R"/*/config.yaml \
  "$R"/kd/model.pt "$R"/s_ls/model.pt 2>/dev/null
cat "$R/timeline.txt"
