"""Captions through the API: subtitle files read (and refused with their codes), a moment's
captions, words and style replaced, and alignment refused or queued at the door."""

from __future__ import annotations

from typing import Any

import pytest

from server.domain.alignment import announce_aligned
from server.domain.models import Moment
from tests.api.conftest import Api, Media
from tests.api.helpers import assert_error, moment, project

SRT = """1
00:00:00,600 --> 00:00:01,400
<i>Hello</i> there,
general

2
00:00:01,500 --> 00:00:02,900
{\\an8}Second <b>line</b>
"""

VTT_WORDS = """WEBVTT

NOTE made by a transcription tool

cue-1
00:00:00.600 --> 00:00:01.800 align:center
<v Ann>Hello <00:00:01.000>big <00:00:01.300><c.lit>wide</c> <00:00:01.500>world

00:00:02.000 --> 00:00:02.500
plain cue
"""

ASS = """[Script Info]
ScriptType: v4.00+

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,2,2,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.60,0:00:01.50,Default,,0,0,0,,{\\b1}Bold{\\b0} words\\Nnext line
Comment: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,not shown
Dialogue: 0,0:00:01.60,0:00:02.40,Default,,0,0,0,,{\\k50}Ka{\\k30}ra{\\k40}oke
"""  # noqa: E501


async def _parse(api: Api, name: str, data: bytes, **fields: str) -> Any:
    return await api.alice.post(
        "/api/captions/parse", files={"file": (name, data, "text/plain")}, data=fields
    )


async def test_srt_parses_to_plain_text_in_seconds(api: Api) -> None:
    response = await _parse(api, "talk.srt", SRT.encode())
    assert response.status_code == 200, response.text
    assert response.json() == {
        "format": "srt",
        "captions": [
            {"start_s": 0.6, "end_s": 1.4, "text": "Hello there, general"},
            {"start_s": 1.5, "end_s": 2.9, "text": "Second line"},
        ],
    }


async def test_srt_offset_moves_every_time(api: Api) -> None:
    body = (await _parse(api, "talk.srt", SRT.encode(), offset_s="10.5")).json()
    assert [(c["start_s"], c["end_s"]) for c in body["captions"]] == [(11.1, 11.9), (12.0, 13.4)]


async def test_vtt_word_timestamps_become_words(api: Api) -> None:
    body = (await _parse(api, "talk.vtt", VTT_WORDS.encode())).json()
    assert body["format"] == "vtt"
    first, second = body["captions"]
    assert first["text"] == "Hello big wide world"
    assert first["words"] == [
        {"start_s": 0.6, "end_s": 1.0, "text": "Hello"},
        {"start_s": 1.0, "end_s": 1.3, "text": "big"},
        {"start_s": 1.3, "end_s": 1.5, "text": "wide"},
        {"start_s": 1.5, "end_s": 1.8, "text": "world"},
    ]
    assert second == {"start_s": 2.0, "end_s": 2.5, "text": "plain cue"}  # no stamps, no words


async def test_ass_parses_dialogue_and_skips_comments(api: Api) -> None:
    body = (await _parse(api, "talk.ass", ASS.encode())).json()
    assert body == {
        "format": "ass",
        "captions": [
            {"start_s": 0.6, "end_s": 1.5, "text": "Bold words next line"},
            {"start_s": 1.6, "end_s": 2.4, "text": "Karaoke"},
        ],
    }


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


@pytest.mark.parametrize(
    "name,data,needle",
    [
        ("photo.srt", PNG, "line 1"),
        ("empty.srt", b"", "empty"),
        ("blank.vtt", b"\n  \n", "empty"),
        ("notes.srt", b"just some text\nnothing timed\n", "line 1"),
        (
            "broken.srt",
            b"1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:0x,000 --> 00:00:04,000\nbad\n",
            "line 6",
        ),
        ("broken.vtt", b"WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\nstray\ntext\n", "line 7"),
    ],
)
async def test_files_that_are_not_good_subtitles_are_refused(
    api: Api, name: str, data: bytes, needle: str
) -> None:
    message = assert_error(await _parse(api, name, data), 422, "captions_invalid")
    assert needle in message and name in message


async def test_a_file_over_two_mebibytes_is_refused(api: Api) -> None:
    cue = "1\n00:00:01,000 --> 00:00:02,000\n" + "x" * 1000 + "\n\n"
    data = (cue * (3 * 1024 * 1024 // len(cue) + 1)).encode()
    assert len(data) >= 3 * 1024 * 1024
    assert_error(await _parse(api, "huge.srt", data), 413, "captions_too_large")


async def test_parse_needs_a_token_and_a_file(api: Api) -> None:
    response = await api.anon.post("/api/captions/parse", files={"file": ("a.srt", b"x")})
    assert_error(response, 401, "unauthorized")
    response = await api.alice.post("/api/captions/parse", files={"other": ("a.srt", b"x")})
    assert_error(response, 422, "validation_error")


async def test_captions_words_and_style_are_stored_on_a_moment(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    made = await moment(api.alice, source["id"], start_s=0.5, end_s=2.5)
    assert made["caption_style"] == {
        "preset": "classic",
        "position": "bottom",
        "size": 1.0,
        "color": "#FFFFFF",
        "highlight_color": "#FFFF00",
        "max_lines": 2,
    }
    parsed = (await _parse(api, "talk.vtt", VTT_WORDS.encode())).json()
    body = {
        "captions": parsed["captions"],
        "caption_style": {"preset": "karaoke", "size": 1.5, "highlight_color": "#00FF88"},
    }
    response = await api.alice.patch(f"/api/moments/{made['id']}/captions", json=body)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["captions"] == parsed["captions"]
    assert updated["caption_style"]["preset"] == "karaoke"
    assert updated["caption_style"]["highlight_color"] == "#00FF88"
    assert updated["caption_style"]["position"] == "bottom"
    assert (await api.alice.get(f"/api/moments/{made['id']}")).json() == updated
    style_only = {"caption_style": {"preset": "box"}}
    again = (await api.alice.patch(f"/api/moments/{made['id']}/captions", json=style_only)).json()
    assert again["captions"] == parsed["captions"] and again["caption_style"]["preset"] == "box"
    other = await api.bob.patch(f"/api/moments/{made['id']}/captions", json=body)
    assert_error(other, 404, "not_found")


@pytest.mark.parametrize(
    "caption,where",
    [
        (
            {"start_s": 1.0, "end_s": 2.0, "text": "a b",
             "words": [{"start_s": 1.0, "end_s": 1.5, "text": "a"}]},
            "captions[1].words",
        ),
        (
            {"start_s": 1.0, "end_s": 2.0, "text": "a b",
             "words": [{"start_s": 1.2, "end_s": 1.6, "text": "a"},
                       {"start_s": 1.5, "end_s": 1.9, "text": "b"}]},
            "captions[1].words",
        ),
        (
            {"start_s": 1.0, "end_s": 2.0, "text": "a b",
             "words": [{"start_s": 1.2, "end_s": 1.6, "text": "a"},
                       {"start_s": 1.7, "end_s": 2.4, "text": "b"}]},
            "captions[1].words",
        ),
    ],
)  # fmt: skip
async def test_words_that_do_not_time_their_caption_are_refused_naming_it(
    api: Api, media: Media, caption: dict[str, Any], where: str
) -> None:
    source = await project(api.alice, media.video)
    made = await moment(api.alice, source["id"], start_s=0.5, end_s=2.5)
    good = {"start_s": 0.6, "end_s": 0.9, "text": "ok"}
    response = await api.alice.patch(
        f"/api/moments/{made['id']}/captions", json={"captions": [good, caption]}
    )
    assert assert_error(response, 422, "validation_error").startswith(where)
    created = await api.alice.post(
        f"/api/projects/{source['id']}/moments",
        json={"start_s": 0.5, "end_s": 2.5, "captions": [good, caption]},
    )
    assert assert_error(created, 422, "validation_error").startswith(where)


@pytest.mark.parametrize(
    "style,field",
    [
        ({"preset": "neon"}, "caption_style.preset"),
        ({"size": 2.5}, "caption_style.size"),
        ({"color": "white"}, "caption_style.color"),
        ({"max_lines": 4}, "caption_style.max_lines"),
        ({"position": "left"}, "caption_style.position"),
    ],
)
async def test_styles_outside_the_ranges_are_refused(
    api: Api, media: Media, style: dict[str, Any], field: str
) -> None:
    source = await project(api.alice, media.video)
    made = await moment(api.alice, source["id"])
    response = await api.alice.patch(
        f"/api/moments/{made['id']}/captions", json={"caption_style": style}
    )
    assert assert_error(response, 422, "validation_error").startswith(field)


async def test_captions_outside_the_moment_are_refused(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    made = await moment(api.alice, source["id"], start_s=0.5, end_s=2.0)
    late = {"captions": [{"start_s": 1.0, "end_s": 2.6, "text": "late"}]}
    response = await api.alice.patch(f"/api/moments/{made['id']}/captions", json=late)
    assert assert_error(response, 422, "validation_error").startswith("captions[0]")


async def test_aligning_a_moment_without_audio_is_refused(api: Api, media: Media) -> None:
    source = await project(api.alice, media.silent_video)
    made = await moment(api.alice, source["id"], start_s=0.2, end_s=1.5)
    response = await api.alice.post(f"/api/moments/{made['id']}/align", json={"text": "hello"})
    assert_error(response, 422, "no_audio")
    assert await api.queued_messages() == []


async def test_align_queues_one_message_and_checks_the_transcript(api: Api, media: Media) -> None:
    source = await project(api.alice, media.video)
    made = await moment(api.alice, source["id"], start_s=0.5, end_s=2.5)
    too_long = await api.alice.post(
        f"/api/moments/{made['id']}/align", json={"text": "word " * 1001}
    )
    assert assert_error(too_long, 422, "validation_error").startswith("text")
    nothing = await api.alice.post(f"/api/moments/{made['id']}/align")
    assert assert_error(nothing, 422, "validation_error").startswith("text")
    response = await api.alice.post(f"/api/moments/{made['id']}/align", json={"text": "hi there"})
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "aligning", "moment_id": made["id"]}
    messages = await api.queued_messages()
    assert [(m["actor_name"], m["args"]) for m in messages] == [
        ("align_moment", [made["id"], "hi there"])
    ]
    await api.alice.patch(
        f"/api/moments/{made['id']}/captions",
        json={"captions": [{"start_s": 0.6, "end_s": 1.0, "text": "own words"}]},
    )
    own = await api.alice.post(f"/api/moments/{made['id']}/align")
    assert own.status_code == 202
    other = await api.bob.post(f"/api/moments/{made['id']}/align", json={"text": "x"})
    assert_error(other, 404, "not_found")


async def test_aligned_captions_are_stored_and_announced_to_polling_and_webhooks(
    api: Api, media: Media
) -> None:
    source = await project(api.alice, media.video)
    made = await moment(api.alice, source["id"], start_s=0.5, end_s=2.5)
    hook = await api.alice.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["moment.aligned"]},
    )
    assert hook.status_code == 201, hook.text
    assert hook.json()["events"] == ["moment.aligned"]
    svc = api.app.state.services
    row = await Moment.get(id=made["id"])
    captions = [
        {
            "start_s": 0.6,
            "end_s": 1.2,
            "text": "hi there",
            "words": [
                {"start_s": 0.6, "end_s": 0.8, "text": "hi"},
                {"start_s": 0.9, "end_s": 1.2, "text": "there"},
            ],
        }
    ]
    await announce_aligned(
        svc.events, svc.enqueuer, row, captions, mean_confidence=0.91234, method="forced"
    )
    stored = (await api.alice.get(f"/api/moments/{made['id']}")).json()
    assert stored["captions"] == captions
    page = (await api.alice.get(f"/api/projects/{source['id']}/events")).json()
    [event] = [e for e in page["events"] if e["type"] == "moment.aligned"]
    assert event["export_id"] is None
    assert event["data"] == {
        "moment_id": made["id"],
        "words": 2,
        "captions": 1,
        "mean_confidence": 0.912,
        "method": "forced",
    }
    dispatched = await api.queued_messages("webhooks")
    assert any(m["actor_name"] == "dispatch_event" and "moment.aligned" in m["args"][0]
               for m in dispatched)  # fmt: skip
