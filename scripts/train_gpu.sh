#!/usr/bin/env bash
# The GPU recipe behind models/synthcheck-default.pt and the comparison runs in models/README.md.
# Needs the two CIFAKE archives in .data/ (cp ../shared/cifake/*.tar.xz .data/). Writes runs/ and
# packs metrics, histories, logs and the small checkpoints into $OUT/runs.tar.gz.
# QUICK=1 runs the same pipeline for one epoch on 2,000 images (a CPU smoke test of the script).
source "$(dirname "$0")/gpu_common.sh"
if [ "${QUICK:-0}" = 1 ]; then
  E_T=1; E_S=1; EXTRA="--max-train-images 2000"
else
  E_T=30; E_S=60; EXTRA=""
  $PY benchmarks/train_throughput.py --device cuda --batch 512 --seconds 4 \
    --models synthcnn,resnet18_32,timm_resnet18,vgg_cifake > "$R/throughput_gpu.txt" 2>&1
fi
common="--data $DATA --no-progress --patience 0 --batch-size 512 $EXTRA"
run teacher 240 --model resnet18_32 --epochs $E_T --lr 2e-3 &
pid_teacher=$!
run s_crop2 300 --model synthcnn --epochs $E_S --crop-padding 2 &
run s_crop0 300 --model synthcnn --epochs $E_S --crop-padding 0 &
run wide 300 --model synthcnn_wide --epochs $E_S &
run vgg 300 --model vgg_cifake --epochs 40 &
wait $pid_teacher
if [ -f "$R/teacher/model.pt" ]; then
  run kd_crop2 220 --model synthcnn --epochs $E_S --teacher "$R/teacher/model.pt" --distill-alpha 0.7 &
  run kd_crop0 220 --model synthcnn --epochs $E_S --crop-padding 0 --teacher "$R/teacher/model.pt" --distill-alpha 0.7 &
fi
wait
cp "$R"/timeline.txt "$OUT"/ 2>/dev/null
tar czf "$OUT/runs.tar.gz" "$R"/*.log "$R"/*.txt "$R"/*/metrics.json "$R"/*/history.csv "$R"/*/config.yaml \
  "$R"/s_*/model.pt "$R"/kd_*/model.pt "$R"/wide/model.pt 2>/dev/null
ls -la "$OUT"; cat "$R/timeline.txt"
