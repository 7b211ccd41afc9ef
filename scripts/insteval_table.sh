#!/usr/bin/env bash
# Reproduces the InstEval table of docs/models.md with marl_rec_eval: a per-user random 80/20
# split (seed 42), each model trained with its defaults (chosen on a validation split of the
# training part), full-ranking NDCG@10 / Recall@20 on the test part, and the training time.
#   scripts/insteval_table.sh [ratings.csv] [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/insteval/ratings.csv}
EVAL=${2:-build/release}/examples/marl_rec_eval
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$EVAL" split --input "$DATA" --train-out "$WORK/train.csv" --test-out "$WORK/test.csv" --seed 42 2>/dev/null
echo "| model | NDCG@10 | Recall@20 | train + recommend (s) |"
echo "|---|---|---|---|"
for model in mostpop itemknn ease ials bpr irgan sessionq "item2vec --param whole_sequence=1 --param scoring=context --param epochs=20"; do
  name=${model%% *}
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  "$EVAL" recommend --train "$WORK/train.csv" --test "$WORK/test.csv" --model $model --k 20 \
    --out "$WORK/recs.csv" 2>/dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  ndcg=$("$EVAL" score --recs "$WORK/recs.csv" --test "$WORK/test.csv" --train "$WORK/train.csv" --k 10 2>/dev/null | awk '$1 == "ndcg@10" {print $2}')
  recall=$("$EVAL" score --recs "$WORK/recs.csv" --test "$WORK/test.csv" --train "$WORK/train.csv" --k 20 2>/dev/null | awk '$1 == "recall@20" {print $2}')
  printf "| %s | %.4f | %.4f | %d.%d |\n" "$model" "$ndcg" "$recall" $((ms / 1000)) $((ms % 1000 / 100))
done
