# Shared preamble of the scripts/train_gpu*.sh recipes (sourced, not run): settings, CIFAKE
# unpacked from .data/ and decoded once, and `run NAME TIMEOUT_S TRAIN_ARGS...`, which trains
# into runs/NAME with its log in runs/NAME.log and a line in runs/timeline.txt.
set -uo pipefail
OUT=${OUT:-runs/out}; R=runs; DATA=${DATA:-/tmp/cifake}
mkdir -p "$OUT" "$R" "$DATA"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 SYNTHCHECK_CACHE=${SYNTHCHECK_CACHE:-/tmp/sc-cache}
PY=${PY:-python3}
t0=$(date +%s)
[ -d "$DATA/train" ] || { tar -xJf .data/train.tar.xz -C "$DATA" & tar -xJf .data/test.tar.xz -C "$DATA" & wait; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
$PY -c "from synthcheck.data.dataset import load_split; [load_split('$DATA', s, 32) for s in ('train', 'test')]"
echo "data ready after $(( $(date +%s) - t0 )) s" | tee -a "$R/timeline.txt"
run() {
  local name=$1 limit=$2; shift 2
  timeout "$limit" $PY train.py $common --out "$R/$name" "$@" > "$R/$name.log" 2>&1
  echo "$name rc=$? at $(( $(date +%s) - t0 )) s" >> "$R/timeline.txt"
}
