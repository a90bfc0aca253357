"""Which input field a local file of ``kie run`` goes to, and whether it is the right kind.

``--image FILE`` fills the model's one image field; ``--input KEY=@FILE`` uploads FILE for the
URL field KEY (``@a.png,@b.png`` for a list of URLs). Only URL fields take files: an ``@`` in a
text field is refused, never uploaded (KIE's upload host serves a file publicly for days, and a
prompt such as ``@everyone`` once matched a file of that name); ``@@`` sends a literal ``@``.
A file whose content does not fit the field (an image for Suno's song) is refused before
anything is uploaded or paid for, naming the field.

What a URL field's links point to comes from its declaration (``url(media="audio")``), else
from its name (``image_url``, ``video_urls``, ``driving_audio_url``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiekit._paths import native
from kiekit.cli._preflight import image_file, media_file, readable_file
from kiekit.errors import KieError, ValidationError
from kiekit.fields import InputField

if TYPE_CHECKING:
    from kiekit.client import Client
    from kiekit.provider import Provider

# A valid URL that can never be fetched (.invalid, RFC 2606), to check an input before its
# files are uploaded; it is never sent.
PLACEHOLDER_URL = "https://kiekit-upload.invalid/file"

# Words of a URL field's name that say what its links point to, the first found deciding
# (``first_frame_image_url`` is an image, ``reference_voice`` a sound).
_NAMED_MEDIA = (
    ("mask", "image"),
    ("image", "image"),
    ("img", "image"),
    ("photo", "image"),
    ("picture", "image"),
    ("frame", "image"),  # a video's first or last frame
    ("video", "video"),
    ("clip", "video"),
    ("audio", "audio"),
    ("music", "audio"),
    ("song", "audio"),
    ("voice", "audio"),
    ("vocal", "audio"),
    ("sound", "audio"),
)
# URL fields named so are addresses KIE calls (Sora's progressCallBackUrl), not files
_NOT_FILES = ("callback", "webhook")
# Words of a URL field that takes files of any kind, or of a kind its name does not say
# (Midjourney's ``file_urls``, 4o Image's ``files_url``, a market model's ``input_urls``)
_ANY_FILE = ("file", "input")
# A field kiekit knows nothing of takes ``@FILE`` when its name says it takes a file
_FILE_WORDS = ("url", "uri", "link", *(word for word, _ in _NAMED_MEDIA), *_ANY_FILE)


def media_of(name: str, declared: str | None = None) -> str | None:
    """``image``, ``video`` or ``audio``: what a URL field's links point to, as declared or as
    its name says; None when neither tells."""
    if declared is not None:
        return declared
    lowered = name.lower()
    return next((media for word, media in _NAMED_MEDIA if word in lowered), None)


def local_files(
    provider: Provider, model: str, values: dict[str, str], image: Path | None
) -> dict[str, tuple[InputField | None, list[Path]]]:
    """The local files to upload, by input field: ``--input KEY=@path`` entries (taken out of
    ``values``; ``@a.png,@b.png`` for a list of URLs; ``@@text`` left in it as ``@text``) and
    ``--image``, which goes to the model's one image URL field. The fields are those the
    provider describes (a typed input class, or kiekit-market's catalogue)."""
    described = provider.input_fields(model)
    fields = _fields_by_name(described)
    files: dict[str, tuple[InputField | None, list[Path]]] = {}
    for key in [k for k, v in values.items() if v.startswith("@")]:
        if values[key].startswith("@@"):  # a literal @, escaped
            values[key] = values[key][1:]
            continue
        field, given = fields.get(key), values.pop(key)
        media = _file_field(key, field, given)
        files[key] = (field, [_checked(key, path, media) for path in _paths(key, field, given)])
    if image is not None:
        field = _one_image_field(model, _image_fields(described))
        if field.name in files or any(fields.get(key) is field for key in [*files, *values]):
            raise ValidationError(field.name, "is given twice (--image and --input)")
        files[field.name] = (field, [image_file("--image", image)])
    return files


def _file_field(key: str, field: InputField | None, given: str) -> str | None:
    """The media of the field ``@FILE`` is given for (None: any file); ValidationError when
    the field takes no file: a text, a number, an address KIE calls."""
    escape = f"to send text that starts with @, double it: --input {key}=@{given}"
    if field is None:
        if not any(word in key.lower() for word in _FILE_WORDS):
            raise ValidationError(
                key,
                "is not an input field kiekit knows to take a URL, and @FILE uploads a file "
                f"only for one (kie upload FILE gives its URL); {escape}",
            )
        return media_of(key)
    if field.kind not in ("url", "urls"):
        what = {"string": "text"}.get(field.kind, f"a value of type {field.kind}")
        raise ValidationError(
            key,
            f"takes {what}, not a file: @FILE uploads a file only for a URL field; {escape} "
            f'(or, for a file\'s text, --input {key}="$(cat FILE)")',
        )
    if any(word in field.name.lower() for word in _NOT_FILES):
        raise ValidationError(key, "is an address KIE calls, not a file to upload")
    return media_of(field.name, field.media)


def upload_for(client: Client, key: str, path: Path) -> str:
    """``path`` uploaded for the input field ``key``: its URL. A failure names the field, as
    the checks before the upload do (``image_urls: big.png: KIE error 400: …``): of several
    files, the user learns which one, and for what."""
    try:
        return client.upload(path).download_url
    except KieError as exc:  # its message names the file already (Files.upload)
        exc.message = f"{key}: {exc.message}"
        exc.field = key  # for --json, whose message is KIE's own words
        raise


def _checked(key: str, path: Path, media: str | None) -> Path:
    if media is not None:  # first: an empty "image" is said not to be one, as for --image
        media_file(key, path, media)
    return readable_file(key, path)  # a file it can read, not empty, as kie upload checks FILE


def _paths(key: str, field: InputField | None, given: str) -> list[Path]:
    """The files of ``@a.png`` (or, for a list of URLs, ``@a.png,@b.png``). A list with an
    entry that is no ``@file`` is refused naming the entry (``image_urls[1]``): a file whose
    own name holds a comma is still one file."""
    whole = Path(native(given[1:]))
    if field is None or field.kind != "urls" or "," not in given or whole.is_file():
        return [_named(key, given)]
    parts = given.split(",")
    for index, part in enumerate(parts):
        if not part.strip().startswith("@"):
            raise ValidationError(
                f"{key}[{index}]",
                f"{part.strip()!r} is no @file: give every file as @path (@a.png,@b.png); "
                "files and URLs do not mix in one value (kie upload FILE gives a file's URL)",
            )
    return [_named(key, part.strip()) for part in parts]


def _named(key: str, given: str) -> Path:
    """The file of one ``@path``; a bare ``@`` is refused (``Path("")`` is ``.``, this folder)."""
    if given == "@":
        raise ValidationError(key, "@ names no file: give @path")
    return Path(native(given[1:]))


def _image_fields(described: tuple[InputField, ...]) -> list[InputField]:
    """The model's URL fields ``--image`` may fill: those for images (declared so, or named
    for them; a mask is not the image), else those for files of a kind their name does not
    say (Midjourney's ``file_urls``). A field declared or named for sound or video never is."""
    found = [
        f
        for f in described
        if f.kind in ("url", "urls")
        and "mask" not in f.name.lower()
        and not any(word in f.name.lower() for word in _NOT_FILES)
    ]
    images = [f for f in found if media_of(f.name, f.media) == "image"]
    return images or [
        f
        for f in found
        if media_of(f.name, f.media) is None and any(w in f.name.lower() for w in _ANY_FILE)
    ]


def image_field(provider: Provider, model: str) -> InputField:
    """The model's one input field for an image URL (see :func:`_image_fields`)."""
    return _one_image_field(model, _image_fields(provider.input_fields(model)))


def _one_image_field(model: str, found: list[InputField]) -> InputField:
    if len(found) == 1:
        return found[0]
    if found:
        what = "several image input fields (" + ", ".join(f.name for f in found) + ")"
        example = found[0].name
    else:
        what = "no image input field kiekit knows of"
        example = "FIELD"
    raise ValidationError(
        "--image", f"{model} has {what}; name the field: --input {example}=@./photo.png"
    )


def _fields_by_name(described: tuple[InputField, ...]) -> dict[str, InputField]:
    """The model's input fields by name and wire name (``inputImage``)."""
    named: dict[str, InputField] = {}
    for field in described:
        named.setdefault(field.name, field)
        if field.wire is not None:
            named.setdefault(field.wire, field)
    return named


def as_field(field: InputField | None, urls: list[str]) -> Any:
    """Uploaded files' URLs as the field takes them: a list for a list of URLs, else the one."""
    if field is not None and field.kind == "urls":
        return urls
    (url,) = urls  # one file: only a list field is given several (_paths)
    return url
