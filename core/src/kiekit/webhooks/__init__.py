"""KIE's callbacks: verify their signature, read every family's shape, receive them with aiohttp.

KIE POSTs JSON to a task's ``callBackUrl`` when it ends (and at each stage for Suno), with a 15 s
timeout, possibly more than once (kie-api.md §6.1). Four surprises shape this package:

- **The task id moves** (§6.2): ``data.taskId`` (market, 4o, Flux, Veo, Luma, Suno MIDI/cover),
  ``data.task_id`` (Runway, most of Suno, Veo 4K's schema), top-level ``taskId`` (Runway Aleph),
  top-level ``task_id`` (§6.3's list). :func:`parse_callback` looks in all of those places, and
  refuses a body whose places disagree (which one KIE signed could not be told), or that holds
  anything but text at one of them (a number is no id KIE signed).
- **The signature does not cover the body** (§6.3): ``X-Webhook-Signature`` is
  ``base64(HMAC-SHA256(key, taskId + "." + X-Webhook-Timestamp))``. A valid signature proves who
  sent *a* callback for that task id at that second, not what its body says. So a callback is
  a signal: the receiver confirms the task's state by asking KIE (``client.status``), and only
  a delivery KIE's status confirms counts as seen (a forged one cannot make the real one a
  "repeat"). What can be bound is: the task id (the body's must be the signed one), the time
  (below), and the body per signature: a signature that came with one body of a callback is
  refused with another body of the same stage and code (a replay). The rest is a residual risk:
  whoever saw one signed delivery can, within the window, send another stage or code under it
  (a Suno "text" signature relabelled "complete"). Only ``on_callback`` hears such a body, as
  sent; ``on_status`` hears only what KIE's status says.
- **No replay window is documented** (§6.3): :func:`verify_signature` refuses timestamps more
  than ``max_age`` seconds (default 300) from now, in either direction.
- **The status may lag the callback.** A Suno record may say FIRST_SUCCESS until its "complete"
  callback is through: the mock's does, and §3.6's CALLBACK_EXCEPTION state suggests KIE
  settles its record around the callback too [INF]. So a status call made while answering the
  final callback can still report the task running (an outside tester: 4 Suno tasks of 6).
  A callback that announces the end is confirmed again, after each of ``confirm_delays``,
  until KIE's status agrees.

:class:`WebhookReceiver` is a small aiohttp application: it verifies (when it has the key),
answers 200 at once (``{"code": 200, "msg": "success"}``, §2.3) and does the rest in the
background: the application's hooks (``on_callback``, ``on_status``) run after the answer, and
a confirmed end is journalled (as a wait's) before ``on_status`` hears it. KIE retries no
callback (§6.1): what a failing hook missed is left in the journal for ``kie resume``. Its
:meth:`~WebhookReceiver.wait` lets a callback end a wait early, with polling kept as the
fallback for callbacks that never come; :meth:`~WebhookReceiver.serve` runs it with deadlines
on each connection, for a public URL.

Errors: everything wrong with a callback is a :class:`CallbackError` (a
:class:`~kiekit.errors.ProtocolError`); a bad or missing signature is a :class:`SignatureError`.
"""

from kiekit.webhooks._callbacks import (
    ACK,
    DEFAULT_MAX_AGE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Callback,
    CallbackError,
    SignatureError,
    parse_callback,
    sign,
    verify_signature,
)
from kiekit.webhooks._receiver import (
    BODY_TIMEOUT,
    CONFIRM_DELAYS,
    EARLY_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_BODY,
    UNKNOWN_RATE,
    WebhookReceiver,
)

__all__ = [
    "ACK",
    "BODY_TIMEOUT",
    "CONFIRM_DELAYS",
    "DEFAULT_MAX_AGE",
    "EARLY_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_BODY",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "UNKNOWN_RATE",
    "Callback",
    "CallbackError",
    "SignatureError",
    "WebhookReceiver",
    "parse_callback",
    "sign",
    "verify_signature",
]
