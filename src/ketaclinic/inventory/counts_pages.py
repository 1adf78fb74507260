"""Pages of counts, discrepancies and disposals (placeholder while the pages are built)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ketaclinic.accounts.deps import require_csrf

router = APIRouter(dependencies=[Depends(require_csrf)], include_in_schema=False)
