"""The `medcodes` command line: build, search (one query or JSON lines from stdin), similar, serve, evaluate."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from embeddings.codesets import BUILTIN_SYSTEMS, SourceError
from embeddings.index.build import BuildError, BuildRequest, build_index
from embeddings.index.format import IndexLoadError
from embeddings.settings import Settings, settings_table
from service.search.codelist import missing_system_hint
from service.search.query import QueryError


class UsageError(ValueError):
    """Bad command-line input; printed as one line and exit status 2."""


def _pairs(values: list[str], what: str) -> dict[str, Path]:
    out = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"{what} must look like NAME=PATH, got {value!r}")
        if not Path(path).is_file():
            raise UsageError(f"{what} file not found: {path}")
        out[name.strip().lower()] = Path(path)
    return out


def _settings(args) -> Settings:
    overrides = {"index_dir": getattr(args, "index", None), "model": getattr(args, "model", None),
                 "encoder": getattr(args, "encoder", None)}
    return Settings.from_env(**overrides)


def cmd_build(args) -> int:
    sources = _pairs(args.source, "--source")
    unknown = set(sources) - set(BUILTIN_SYSTEMS)
    if unknown:
        raise UsageError(f"--source names unknown system(s) {sorted(unknown)}; use {', '.join(BUILTIN_SYSTEMS)}")
    systems = tuple(args.systems.split(",")) if args.systems else BUILTIN_SYSTEMS
    bad = [s for s in systems if s not in BUILTIN_SYSTEMS]
    if bad:
        raise UsageError(f"--systems: unknown {bad}; built-in systems are {', '.join(BUILTIN_SYSTEMS)}")
    for folder in args.content or []:
        if not Path(folder).is_dir():
            raise UsageError(f"--content folder not found: {folder}")
    request = BuildRequest(systems=systems, sources=sources, custom=_pairs(args.custom, "--custom"),
                           prefixes=tuple(p for p in (args.prefixes or "").split(",") if p),
                           content=tuple(Path(c) for c in args.content or ()), stage=args.stage)
    report = build_index(_settings(args), request, force=not args.if_stale)
    print(json.dumps({"index": str(report.path), "counts": report.counts, "encoded": report.encoded,
                      "reused": report.reused, "seconds": round(report.seconds, 1), "skipped": report.skipped,
                      "warnings": list(report.warnings)}))
    return 0


def _engine(args):
    from service.search.engine import SearchEngine
    return SearchEngine.open(_settings(args))


def _hit_json(hit) -> dict:
    return {"system": hit.system, "code": hit.code, "title": hit.title, "score": hit.score,
            "billable": hit.billable, "reasons": list(hit.reasons),
            "variants": [{"code": v.code, "title": v.title, "label": v.label} for v in hit.variants]}


def cmd_search(args) -> int:
    engine = _engine(args)
    billable = True if args.billable else None
    if args.query == ["-"]:  # the Unix convention: '-' names standard input
        args.query = []
    if args.query:
        result = engine.search(" ".join(args.query), args.system, billable, args.chapter, args.limit, mode=args.mode)
        hint = missing_system_hint(engine.store.systems, result)
        if args.json:
            print(json.dumps({"query": result.query, "total": result.total, "took_ms": result.took_ms,
                              "results": [_hit_json(h) for h in result.hits], **({"hint": hint} if hint else {})}))
        else:
            for n, h in enumerate(result.hits, 1):
                flag = "billable" if h.billable else h.kind
                also = f"  (also {'; '.join(f'{v.code} {v.label}' for v in h.variants)})" if h.variants else ""
                print(f"{n:>2}. {h.system:<9} {h.code:<9} {h.title}  [{flag}; {'; '.join(h.reasons)}]{also}")
            if not result.hits:
                print(f"no results{'; ' + hint if hint else ''}", file=sys.stderr)
        return 0
    failures = 0
    calibration = None
    if args.best:
        from service.search.autocode import Calibration, best_match
        from service.web.views import autocode_dict
        calibration = Calibration.load()
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        try:
            request = _line_request(text, args, billable)
            text = request.pop("text")
            if args.best:  # one best code per line, or "no confident match"
                out = {"query": text, **autocode_dict(best_match(engine, text, engine.check_system(request["system"]),
                                                                 calibration))}
                print(json.dumps(out), flush=True)
                continue
            result = engine.search(text, **request)
            out = {"query": text, "results": [_hit_json(h) for h in result.hits]}
            if hint := missing_system_hint(engine.store.systems, result):
                out["hint"] = hint
        except QueryError as exc:
            failures += 1
            out = {"query": text, "error": str(exc), "results": []}
        print(json.dumps(out), flush=True)
    return 1 if failures else 0


def _line_request(line: str, args, billable: bool | None) -> dict:
    """One stdin line: plain query text, or a JSON object {"q": ..., "system", "chapter", "billable", "limit",
    "mode"} whose fields override the command-line options for that line."""
    request = {"text": line, "system": args.system, "billable": billable, "chapter": args.chapter,
               "limit": args.limit, "mode": args.mode}
    if not line.startswith("{"):
        return request
    try:
        fields = json.loads(line)
    except json.JSONDecodeError as exc:
        raise QueryError(f"the line is not valid JSON: {exc.msg} at character {exc.pos}") from None
    kinds = {"q": str, "system": str, "chapter": str, "billable": bool, "limit": int, "mode": str}
    unknown = sorted(set(fields) - set(kinds)) if isinstance(fields, dict) else None
    if unknown is None or unknown or not isinstance(fields.get("q"), str):
        raise QueryError('a JSON line must be an object with a "q" string and only the fields '
                         + ", ".join(kinds) + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    for name, kind in kinds.items():
        value = fields.get(name)
        if value is not None and (type(value) is not kind):
            raise QueryError(f"{name!r} must be {kind.__name__}, got {type(value).__name__}")
    request.update({("text" if k == "q" else k): v for k, v in fields.items() if v is not None})
    return request


def cmd_similar(args) -> int:
    from service.similar.rank import similar_codes
    engine = _engine(args)
    suggestions = similar_codes(engine, args.system, args.code, args.limit)
    if args.json:
        print(json.dumps({"system": args.system, "code": args.code,
                          "similar": [s.to_dict() for s in suggestions]}))
    else:
        for n, s in enumerate(suggestions, 1):
            print(f"{n:>2}. {s.code:<9} {s.title}  [{'; '.join(s.reasons)}]")
    return 0


def cmd_serve(args) -> int:
    import uvicorn
    settings = _settings(args).replace(host=args.host or Settings.from_env().host,
                                       port=args.port or Settings.from_env().port)
    if args.watch is not None:
        if args.watch < 0:
            raise UsageError("--watch must be 0 (off) or a number of seconds")
        settings = settings.replace(watch_seconds=args.watch)
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.build_if_stale:
        from service.web import first_run
        first_run.prepare(settings)
        if args.watch is None:
            settings = settings.replace(watch_seconds=first_run.STALE_WATCH_S)
    print(f"medcodes serving {settings.index_dir} on http://{settings.host}:{settings.port} "
          f"({args.workers} worker{'s' if args.workers > 1 else ''})", file=sys.stderr)
    if args.workers > 1:
        # A supervisor process and N workers on one socket; SIGHUP or POST /admin/reload swaps the index in all.
        from service.web.workers import serve_workers
        return serve_workers(settings, args.workers)
    from service.web.reload import ReloadingApp
    app = ReloadingApp(settings)
    app.reload_on_sighup()
    app.watch(settings.watch_seconds)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def cmd_evaluate(args) -> int:
    from service.evaluation import runner as evaluation
    engine = _engine(args)
    if engine.warming:
        raise UsageError("the index is a words-only first stage; build the full index first (medcodes build)")
    return evaluation.main(args, engine)


def cmd_settings(_args) -> int:
    for row in settings_table():
        print(f"{row['name']:<32} {row['default']:<22} {row['help']}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medcodes", description="Search ICD-10-CM / ICD-10-PCS codes in plain language.")
    p.add_argument("--index", type=Path, help="index directory (default data/index or MEDCODES_INDEX_DIR)")
    p.add_argument("--model", help="path of a local sentence-transformers model (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--encoder", choices=["onnx", "onnx-int8", "sentence", "stub"], help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build the index (writes to a temp dir, then swaps in atomically)")
    b.add_argument("--source", action="append", metavar="SYSTEM=PATH",
                   help="official release file instead of the packaged table (icd10cm=tabular.xml, icd10pcs=order.txt)")
    b.add_argument("--custom", action="append", metavar="NAME=PATH", help="user-supplied code system (CSV/JSONL)")
    b.add_argument("--content", action="append", metavar="FOLDER",
                   help="content pack folder (SYSTEM/CODE.txt|.json|.yaml) with authored code-page sections")
    b.add_argument("--systems", help="comma-separated built-in systems to include (default: all)")
    b.add_argument("--prefixes", help="only built-in codes under these comma-separated prefixes (a small subset); "
                                      "custom files load whole")
    b.add_argument("--if-stale", action="store_true", help="skip the build when the index is already current")
    b.add_argument("--stage", choices=["full", "words"], default="full",
                   help="'words': a quick first index with no model vectors (codes and words only), served while the "
                        "full one builds")
    b.set_defaults(func=cmd_build)

    s = sub.add_parser("search", help="search; with no QUERY (or '-'), reads one query per line from stdin: text or "
                                      "a JSON object {\"q\": ..., \"system\", \"limit\", ...} (JSON lines out)")
    s.add_argument("query", nargs="*")
    s.add_argument("--system")
    s.add_argument("--chapter")
    s.add_argument("--billable", action="store_true", help="billable codes only")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--mode", default="hybrid", choices=["hybrid", "lexical", "dense"])
    s.add_argument("--json", action="store_true")
    s.add_argument("--best", action="store_true",
                   help="stdin mode: the single best codable code per line with a calibrated confidence "
                        "(as /api/autocode), or 'no confident match'")
    s.set_defaults(func=cmd_search)

    m = sub.add_parser("similar", help="Similar Codes for one code")
    m.add_argument("system")
    m.add_argument("code")
    m.add_argument("--limit", type=int, default=10)
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_similar)

    v = sub.add_parser("serve", help="serve the web site and API")
    v.add_argument("--host")
    v.add_argument("--port", type=int)
    v.add_argument("--workers", type=int, default=1, help="server processes (each maps the same index read-only); "
                                                          "SIGHUP to the serve process or POST /admin/reload swaps all")
    v.add_argument("--build-if-stale", action="store_true",
                   help="with no index, build a words-only first stage (a minute or two) and serve it; build the full "
                        "index in the background and switch to it when done (what `make run` does)")
    v.add_argument("--watch", type=float, metavar="SECONDS",
                   help="reload by itself when the index link points at a new build (checked every SECONDS)")
    v.set_defaults(func=cmd_serve)

    e = sub.add_parser("evaluate", help="retrieval metrics on the evaluation query sets")
    e.add_argument("--set", dest="sets", action="append", help="query set name (default: all)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--no-ablation", dest="ablation", action="store_false",
                   help="baselines and full query understanding only (a third of the time; nothing is saved)")
    e.set_defaults(func=cmd_evaluate)

    sub.add_parser("settings", help="list settings and their MEDCODES_* variables").set_defaults(func=cmd_settings)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, QueryError, SourceError, BuildError, IndexLoadError, ValueError, LookupError) as exc:
        print(f"medcodes {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
