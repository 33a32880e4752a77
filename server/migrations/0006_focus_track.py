"""Focus tracks: a moment's focus mode and track, and the track an export renders."""

import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


def _json(null: bool) -> fields.JSONField:  # type: ignore[type-arg]
    return fields.JSONField(
        null=null, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0005_live_preview")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Moment",
            name="focus_mode",
            field=fields.CharField(default="manual", max_length=8),
        ),
        ops.AddField(model_name="Moment", name="focus_track", field=_json(True)),
        ops.AddField(model_name="Export", name="focus_track", field=_json(True)),
        ops.AddField(
            model_name="Export", name="focus_fallback", field=fields.BooleanField(default=False)
        ),
    ]
