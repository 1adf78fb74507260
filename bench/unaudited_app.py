"""The app with auditing switched off: load_bench.py's reference, never a way to run a clinic.

    python bench/unaudited_app.py --host 127.0.0.1 --port 8001 --workers 2

Every ``audit.service.record`` call becomes a no-op and no sealer runs, so the same requests cost
what they would cost without an audit trail. The settings come from the environment as usual.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from ketaclinic.audit import service


def _not_recorded(*_args: object, **_kwargs: object) -> None:
    """Stands in for ``service.record``."""


def create() -> FastAPI:
    from ketaclinic.app import create_app
    from ketaclinic.config import Settings

    service.record = _not_recorded  # type: ignore[assignment]
    return create_app(Settings(audit_seal_interval_s=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "unaudited_app:create",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
    )


if __name__ == "__main__":
    main()
