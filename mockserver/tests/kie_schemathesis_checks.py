"""schemathesis checks that read KIE's envelope (loaded with SCHEMATHESIS_HOOKS, see
test_openapi_schemathesis.py).

KIE answers every call with HTTP 200 and tells failure by the body `code` (kie-api.md §1,
§7), so schemathesis' own `negative_data_rejection`, which looks at the HTTP status, cannot see a
rejection. `kie_negative_data_rejection` runs that same check on a view of the response whose
status is the body code: invalid input the document forbids must get a 4xx/5xx body code, on
every operation the document marks with `x-kie-envelope`. The mock's own routes answer real HTTP
statuses and get the check as it is. The suite runs
it in place of the built-in one (test_openapi_schemathesis.py: DISABLED).
"""

from __future__ import annotations

import json

import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.specs.openapi.checks import missing_required_header, negative_data_rejection


def _body_code(response: Response) -> int | None:
    try:
        payload = json.loads(response.content)
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) else None


def _as_kie(response: Response, code: int) -> Response:
    """``response`` as a tool judging by HTTP status would see it if KIE used statuses."""
    return Response(
        status_code=code,
        headers={k: list(v) for k, v in response.headers.items()},
        content=response.content,
        request=response.request,
        elapsed=response.elapsed,
        verify=response.verify,
    )


@schemathesis.check
def kie_negative_data_rejection(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if "x-kie-envelope" not in case.operation.definition.raw:
        return negative_data_rejection(ctx, response, case)  # real HTTP statuses
    code = _body_code(response)
    if response.status_code != 200 or code is None:
        return None
    return negative_data_rejection(ctx, _as_kie(response, code), case)


@schemathesis.check
def kie_missing_required_header(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """The coverage phase's request without a required header (Authorization): KIE's 401 is a
    body code at HTTP 200 (§1), so the built-in check is run on the body code."""
    if "x-kie-envelope" not in case.operation.definition.raw:
        return missing_required_header(ctx, response, case)
    code = _body_code(response)
    if response.status_code != 200 or code is None:
        return None
    return missing_required_header(ctx, _as_kie(response, code), case)
