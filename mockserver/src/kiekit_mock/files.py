"""Result files: GET /files/{task_id}/{index}.{ext} — the mock's stand-in for KIE's CDN links.

No auth, as for public CDN links (kie-api.md §2.2 tempfile.aiquickdraw.com, §3.2). A file exists
only while its task has succeeded and the index/extension match; anything else is a real 404.
"""

from __future__ import annotations

from aiohttp import web

from . import media
from .state import TaskSnapshot
from .wire import runtime

ROUTES = web.RouteTableDef()

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
}


def render(task: TaskSnapshot, index: int) -> bytes:
    colour = media.colour_for(task.task_id, index)
    width, height = media.size_for(task.aspect_ratio)
    if task.result_ext == "png":
        return media.png_bytes(width, height, colour)
    if task.result_ext in ("jpg", "jpeg"):
        return media.jpeg_bytes(width, height, colour)
    if task.result_ext == "mp3":
        return media.mp3_bytes(f"{task.task_id}/{index}")
    return media.mp4_bytes(f"{task.task_id}/{index}")


@ROUTES.get("/files/{task_id}/{name}")
async def result_file(request: web.Request) -> web.Response:
    task = runtime(request).store.find(request.match_info["task_id"])
    stem, _, ext = request.match_info["name"].partition(".")
    if task is None or task.state != "success" or ext != task.result_ext or not stem.isdigit():
        raise web.HTTPNotFound()
    index = int(stem)
    if index >= task.result_count:
        raise web.HTTPNotFound()
    return web.Response(body=render(task, index), content_type=CONTENT_TYPES[ext])
