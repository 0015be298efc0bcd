"""`make loadtest`: a bounded mixed-endpoint load on loopback; reports errors, latency and server memory drift."""
from __future__ import annotations

import argparse
import json
import random
import sys
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote

from embeddings.index.store import IndexStore
from embeddings.settings import Settings
from service.perf.httpload import Server, run_load


def request_mix(index_dir: Path, count: int = 400, seed: int = 7) -> list[str]:
    """Valid and invalid requests over every public endpoint; invalid ones must get a 4xx, never a 5xx."""
    store = IndexStore(index_dir, verify_checksums=False)
    rows = [(r.system, r.code, r.title) for r in store.all_rows()]
    uris = {name: info.get("fhir_uri", "") for name, info in store.systems.items()}
    rng = random.Random(seed)
    paths = []
    for system, code, title in rng.sample(rows, min(count, len(rows))):
        words = quote(" ".join(title.split()[:3]))
        paths += [f"/api/search?q={words}&limit=10", f"/api/suggest?q={quote(title[:5])}",
                  f"/api/codes/{system}/{quote(code)}", f"/api/codes/{system}/{quote(code)}/similar?limit=10",
                  f"/api/codes/{system}/{quote(code)}/children", f"/codes/{system}/{quote(code)}"]
        if uris.get(system):
            paths += [f"/fhir/CodeSystem/$lookup?system={quote(uris[system])}&code={quote(code)}",
                      f"/fhir/ValueSet/$expand?url={quote(uris[system])}&filter={words}&count=10"]
    paths += ["/api/search?q=", "/api/search?q=" + "x" * 5000, "/api/search?q=heart&limit=-1",
              "/api/search?q=heart&system=nope", "/api/codes/icd10cm/NOPE", "/api/search?q=%00%01%1b",
              "/fhir/CodeSystem/$lookup?system=urn:nope&code=1", "/health", "/api/systems", "/"]
    rng.shuffle(paths)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="medcodes-loadtest")
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--replicas", type=int, default=1,
                   help="separate `medcodes serve` processes on one index directory, load sent round-robin")
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--out", type=Path, default=Path("data/bench/loadtest.json"))
    args = p.parse_args(argv)
    settings = Settings.from_env()
    paths = request_mix(settings.index_dir)
    with ExitStack() as stack:
        servers = [stack.enter_context(Server(settings.index_dir, workers=args.workers)) for _ in range(args.replicas)]
        urls = [s.url for s in servers]
        run_load(urls, paths[:200], concurrency=args.clients, max_requests=200)
        rss_before = round(sum(s.rss_mb() for s in servers), 1)
        result = run_load(urls, paths, args.clients, args.requests, args.seconds)
        rss_after = round(sum(s.rss_mb() for s in servers), 1)
    report = {"requests": result.requests, "errors (5xx or failed)": result.errors, "seconds": result.seconds,
              "rps": result.rps, "p50 ms": result.p50_ms, "p95 ms": result.p95_ms, "p99 ms": result.p99_ms,
              "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
              "server rss mb before": rss_before, "server rss mb after": rss_after,
              "replicas": args.replicas, "workers": args.workers, "requests per replica": result.per_url,
              "clients": args.clients, "distinct requests": len(paths)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for key, value in report.items():
        print(f"{key:<24} {value}")
    return 0 if result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
