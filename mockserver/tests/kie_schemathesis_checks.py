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
from schemathesis.specs.openapi.checks import negative_data_rejection


def _body_code(response: Response) -> int | None:
    try:
        payload = json.loads(response.content)
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) else None


@schemathesis.check
def kie_negative_data_rejection(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if "x-kie-envelope" not in case.operation.definition.raw:
        return negative_data_rejection(ctx, response, case)  # real HTTP statuses
    code = _body_code(response)
    if response.status_code != 200 or code is None:
        return None
    as_kie = Response(
        status_code=code,
        headers={k: list(v) for k, v in response.headers.items()},
        content=response.content,
        request=response.request,
        elapsed=response.elapsed,
        verify=response.verify,
    )
    return negative_data_rejection(ctx, as_kie, case)
