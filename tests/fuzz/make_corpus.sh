#!/bin/sh
# make_corpus.sh OUTDIR - seed corpus for fuzz_cmd: every golden frame of
# tests/data/rocketmq-4.9.8/{json,rocketmq} with its 4-byte length prefix
# stripped (fuzz_cmd takes what rmq_cmd_decode takes), plus a few hand-made
# headers for quirks the capture does not contain.
set -eu
out=${1:?usage: make_corpus.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data/rocketmq-4.9.8
mkdir -p "$out"
for f in "$data"/json/*.bin "$data"/rocketmq/*.bin; do
  tail -c +5 "$f" > "$out/$(basename "$(dirname "$f")")_$(basename "$f")"
done
# JSON headers: header word (type 0, length) + header text.
json_seed() {
  name=$1; text=$2
  len=$(printf '%s' "$text" | wc -c)
  {
    printf "\\$(printf '%03o' 0)\\$(printf '%03o' $(( (len >> 16) & 255 )))"
    printf "\\$(printf '%03o' $(( (len >> 8) & 255 )))\\$(printf '%03o' $(( len & 255 )))"
    printf '%s' "$text"
  } > "$out/hand_$name"
}
json_seed alions '{"code":310,"language":"JAVA","opaque":1,"flag":0,"version":121,"extFields":{"a":"G","e":3,"g":1700000000000,"k":false,"f":1.5e-7,"n":null,"i":"K\u0001v\u0002"}}'
json_seed empty_ext '{"code":0,"extFields":{},"remark":"","language":"GO"}'
json_seed nested '{"extFields":{"o":{"x":[1,2]},"d":-0.0},"language":99,"unknown":[true]}'
json_seed utf8 '{"code":1,"remark":"caf\u00e9 \ud83d\ude00","extFields":{"k":"\u4e2d"}}'
