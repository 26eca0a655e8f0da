#!/usr/bin/env bash
# Second GPU stage: a ResNet-18 teacher, then the compact synthcnn distilled from it
# (and a plain label-smoothed synthcnn beside it). Same conventions as scripts/train_gpu.sh.
set -uo pipefail
OUT=${OUT:-runs/out}; R=runs; DATA=${DATA:-/tmp/cifake}
mkdir -p "$OUT" "$R" "$DATA"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 SYNTHCHECK_CACHE=${SYNTHCHECK_CACHE:-/tmp/sc-cache}
PY=${PY:-python3}
t0=$(date +%s)
[ -d "$DATA/train" ] || { tar -xJf .data/train.tar.xz -C "$DATA" & tar -xJf .data/test.tar.xz -C "$DATA" & wait; }
$PY -c "from synthcheck.data import load_split; [load_split('$DATA', s, 32) for s in ('train', 'test')]"
echo "data ready after $(( $(date +%s) - t0 )) s" | tee -a "$R/timeline.txt"
if [ "${QUICK:-0}" = 1 ]; then E_T=1; E_S=1; EXTRA="--max-train-images 2000"; else E_T=30; E_S=60; EXTRA=""; fi
common="--data $DATA --no-progress --patience 0 --batch-size 512 $EXTRA"
run() { local name=$1 limit=$2; shift 2; timeout "$limit" $PY train.py $common --out "$R/$name" "$@" > "$R/$name.log" 2>&1; echo "$name rc=$? at $(( $(date +%s) - t0 )) s" >> "$R/timeline.txt"; }
run teacher 150 --model resnet18_32 --epochs $E_T --lr 2e-3
run kd 200 --model synthcnn --epochs $((E_S * 2 / 3 > 0 ? E_S * 2 / 3 : 1)) --teacher "$R/teacher/model.pt" --distill-alpha 0.7 &
run s_ls 200 --model synthcnn --epochs $E_S --label-smoothing 0.1 &
wait
tar czf "$OUT/runs.tar.gz" "$R"/*.log "$R"/*.txt "$R"/*/metrics.json "$R"/*/history.csv "$R"/*/config.yaml \
  "$R"/kd/model.pt "$R"/s_ls/model.pt 2>/dev/null
cat "$R/timeline.txt"
