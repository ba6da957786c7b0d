"""The campaign builder's forms: they read what staff typed and chose into a campaign *spec*
(campaigns.services.campaigns.campaign_create's dict), and put the services' path errors
("schedule.at", "audience.all[0].op", "schedule.steps[1].template") back beside the fields.

The audience's condition rows are repeated inputs (cond_field, cond_op, cond_value,
cond_param, one of each per row, in order), added and changed by htmx, not Django fields.
"""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from django import forms
from django.forms import formset_factory

from campaigns.models import Campaign
from campaigns.schedules import Schedule, ScheduleError, rrule_parse, zone_get
from core.errors import DomainValidationError
from interventions.models import Channel

WEEKDAYS = [
    ("MO", "Mon"),
    ("TU", "Tue"),
    ("WE", "Wed"),
    ("TH", "Thu"),
    ("FR", "Fri"),
    ("SA", "Sat"),
    ("SU", "Sun"),
]
FREQUENCIES = [("daily", "Every day"), ("weekly", "Every week"), ("monthly", "Every month")]
ENDS = [("never", "Never"), ("until", "On a date"), ("count", "After a number of runs")]
EXIT_CHOICES = [
    ("completed", "Completed the course"),
    ("converted", "Converted"),
    ("unsubscribed", "Unsubscribed"),
    ("left_audience", "Left the audience"),
]
# Ops whose value is a list (comma-separated in the row) or a yes/no.
LIST_OPS = ("in", "not_in")
FLAG_OPS = ("is_set",)


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _date() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"})


class StepForm(forms.Form):
    """One drip step: a template, sent a delay after the anchor or the previous step."""

    template = forms.ChoiceField(label="Template", required=False)
    delay_days = forms.IntegerField(label="Days", min_value=0, initial=0, required=False)
    delay_hours = forms.IntegerField(label="Hours", min_value=0, initial=0, required=False)
    after_previous = forms.BooleanField(label="After the previous step", required=False)

    def __init__(self, *args: Any, template_choices: Sequence[tuple[str, str]] = (), **kw: Any):
        kw.setdefault("label_suffix", "")
        super().__init__(*args, **kw)
        self.fields["template"].choices = [("", "Choose a template"), *list(template_choices)]

    def step(self) -> dict[str, Any] | None:
        """The step's spec, or None for a blank row (or one marked for deletion)."""
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        if data.get("DELETE") or not data.get("template"):
            return None
        return {
            "template": data["template"],
            "delay_days": data.get("delay_days") or 0,
            "delay_hours": data.get("delay_hours") or 0,
            "after_previous": bool(data.get("after_previous")),
        }


# One blank step to fill in (blank steps are left out of the spec).
StepFormSet = formset_factory(StepForm, extra=1, can_delete=True, max_num=20, absolute_max=20)


class CampaignForm(forms.Form):
    """The builder: name, channel, audience, schedule, template, sending options."""

    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(label="Description", max_length=300, required=False)
    channel = forms.ChoiceField(label="Channel", choices=Channel.choices)

    audience_mode = forms.ChoiceField(
        label="Send to",
        choices=[("segment", "A saved segment"), ("filter", "A custom filter")],
        widget=forms.RadioSelect,
        initial="segment",
    )
    segment = forms.ChoiceField(label="Segment", required=False)
    match = forms.ChoiceField(
        label="Learners who match",
        choices=[("all", "all of the conditions"), ("any", "any of the conditions")],
        initial="all",
        required=False,
    )
    filter_json = forms.CharField(
        label="Advanced: the filter as JSON",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='Overrides the conditions above, e.g. {"any": [{"field": "risk", '
        '"op": ">=", "value": 60}, {"not": {...}}]}.',
    )

    schedule_type = forms.ChoiceField(
        label="When", choices=Campaign.Kind.choices, widget=forms.RadioSelect, initial="one_time"
    )
    timezone = forms.ChoiceField(label="Timezone", initial="UTC", required=False)
    at_date = forms.DateField(label="Date", required=False, widget=_date())
    at_time = forms.TimeField(
        label="Time", required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    frequency = forms.ChoiceField(
        label="Repeats", choices=FREQUENCIES, initial="weekly", required=False
    )
    weekdays = forms.MultipleChoiceField(
        label="On", choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple
    )
    monthday = forms.IntegerField(
        label="Day of the month", min_value=1, max_value=31, required=False
    )
    time = forms.TimeField(
        label="At", required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    start = forms.DateField(label="Starting", required=False, widget=_date())
    ends = forms.ChoiceField(
        label="Ends", choices=ENDS, required=False, initial="never", widget=forms.RadioSelect
    )
    until = forms.DateField(label="Last date", required=False, widget=_date())
    count = forms.IntegerField(label="Number of runs", min_value=1, max_value=1000, required=False)
    rrule_text = forms.CharField(
        label="Advanced: the rule (RFC 5545)",
        required=False,
        max_length=300,
        help_text="Overrides the choices above, e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=TU.",
    )
    anchor = forms.ChoiceField(
        label="Counted from", choices=Campaign.Anchor.choices, initial="enrollment", required=False
    )
    course = forms.ChoiceField(label="Course", required=False)
    exit = forms.MultipleChoiceField(
        label="Stop early when the learner",
        choices=EXIT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    template = forms.ChoiceField(label="Template", required=False)
    learner_local_time = forms.BooleanField(
        label="Send at this time in each learner's own timezone", required=False
    )
    rate_per_minute = forms.IntegerField(
        label="At most this many messages a minute",
        min_value=0,
        initial=0,
        required=False,
        help_text="0: as fast as they go.",
    )
    holdout_percent = forms.IntegerField(
        label="Hold out this share of learners (%)",
        min_value=0,
        max_value=50,
        initial=10,
        required=False,
        help_text="Never contacted, the same learners every run: the effectiveness report "
        "compares them with those contacted. 0: contact everyone.",
    )

    # Service paths -> the field that shows the error.
    PATHS = {
        "name": "name",
        "description": "description",
        "channel": "channel",
        "template": "template",
        "learner_local_time": "learner_local_time",
        "rate_per_minute": "rate_per_minute",
        "holdout_percent": "holdout_percent",
        "audience.segment": "segment",
        "schedule.type": "schedule_type",
        "schedule.timezone": "timezone",
        "schedule.at": "at_date",
        "schedule.time": "time",
        "schedule.start": "start",
        "schedule.rrule": "rrule_text",
        "schedule.anchor": "anchor",
        "schedule.course": "course",
        "schedule.exit": "exit",
    }

    def __init__(
        self,
        *args: Any,
        segments: Sequence[tuple[str, str]] = (),
        templates: Sequence[tuple[str, str]] = (),
        courses: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", "Choose a segment"), *list(segments)]
        self.fields["template"].choices = [("", "Choose a template"), *list(templates)]
        self.fields["course"].choices = [("", "Any course"), *list(courses)]
        self.fields["timezone"].choices = timezone_choices()
        self.template_choices = list(templates)
        prefix = "steps"
        self.steps = StepFormSet(
            self.data if self.is_bound else None,
            initial=self.initial.get("steps"),
            prefix=prefix,
            form_kwargs={"template_choices": self.template_choices},
        )
        self.audience_errors: list[str] = []
        self.steps_errors: list[str] = []

    # --- reading the form into a spec -----------------------------------------------------

    def is_valid(self) -> bool:
        valid = super().is_valid()
        steps_valid = self.cleaned_data.get("schedule_type") != "drip" or self.steps.is_valid()
        return valid and steps_valid

    def conditions(self) -> list[dict[str, str]]:
        """The condition rows as typed: field, op, value, param."""
        get = self.data.getlist if hasattr(self.data, "getlist") else lambda k: []
        names = ("op", "value", "param", "param_key")
        fields = get("cond_field")
        columns = {name: get(f"cond_{name}") for name in names}
        return [
            {"field": field}
            | {name: (col[i] if i < len(col) else "") for name, col in columns.items()}
            for i, field in enumerate(fields)
        ]

    def filter(self, catalogue: Mapping[str, Mapping[str, Any]]) -> Any:
        """The custom filter: the JSON when given, else the condition rows combined with
        all/any. Raises DomainValidationError({"filter_json": ...}) for JSON that is not."""
        text = (self.data.get("filter_json") or "").strip()
        if text:
            try:
                return json.loads(text)
            except ValueError as error:
                raise DomainValidationError({"filter_json": f"Not JSON: {error}."}) from error
        match = self.data.get("match") if self.data.get("match") in ("all", "any") else "all"
        leaves = [leaf(row, catalogue.get(row["field"], {})) for row in self.conditions()]
        return {match: leaves} if leaves else {}  # no condition: every learner

    def audience(self, catalogue: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        if self.data.get("audience_mode") == "filter":
            return {"filter": self.filter(catalogue)}
        return {"segment": self.data.get("segment", "")}

    def schedule(self) -> dict[str, Any]:
        """The schedule spec from the schedule fields (cleaned_data)."""
        data = self.cleaned_data
        kind = data.get("schedule_type") or "one_time"
        tz = data.get("timezone") or "UTC"
        if kind == "one_time":
            at = None
            if data.get("at_date"):
                at = datetime.datetime.combine(
                    data["at_date"], data.get("at_time") or datetime.time(9)
                ).isoformat(timespec="minutes")
            return {"type": kind, "at": at, "timezone": tz}
        if kind == "recurring":
            spec: dict[str, Any] = {
                "type": kind,
                "rrule": self.rrule(),
                "time": data["time"].strftime("%H:%M") if data.get("time") else None,
                "timezone": tz,
            }
            if data.get("start"):
                spec["start"] = data["start"].isoformat()
            return spec
        return {
            "type": kind,
            "anchor": data.get("anchor") or "enrollment",
            "course": data.get("course") or None,
            "exit": list(data.get("exit") or []),
            "steps": [s for s in (f.step() for f in self.steps.forms) if s is not None],
        }

    def rrule(self) -> str:
        """The RFC 5545 rule the recurrence choices make (or the one written out)."""
        data = self.cleaned_data
        if (data.get("rrule_text") or "").strip():
            return data["rrule_text"].strip()
        frequency = data.get("frequency") or "weekly"
        parts = [f"FREQ={frequency.upper()}"]
        if frequency == "weekly" and data.get("weekdays"):
            parts.append("BYDAY=" + ",".join(d for d, _ in WEEKDAYS if d in data["weekdays"]))
        if frequency == "monthly" and data.get("monthday"):
            parts.append(f"BYMONTHDAY={data['monthday']}")
        if data.get("ends") == "until" and data.get("until"):
            parts.append(f"UNTIL={data['until']:%Y%m%d}T235959")
        elif data.get("ends") == "count" and data.get("count"):
            parts.append(f"COUNT={data['count']}")
        return ";".join(parts)

    def spec(self, catalogue: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The campaign spec of a valid form (may raise DomainValidationError for the JSON)."""
        data = self.cleaned_data
        kind = data.get("schedule_type")
        return {
            "name": data["name"],
            "description": data.get("description", ""),
            "channel": data["channel"],
            "audience": self.audience(catalogue),
            "schedule": self.schedule(),
            "template": (data.get("template") or None) if kind != "drip" else None,
            "learner_local_time": bool(data.get("learner_local_time")),
            "rate_per_minute": data.get("rate_per_minute") or 0,
            "holdout_percent": 10
            if data.get("holdout_percent") is None
            else data["holdout_percent"],
        }

    def preview_schedule(self) -> Schedule:
        """The one-time or recurring schedule the fields describe, for the next-runs preview;
        ScheduleError names the part at fault."""
        data = self.cleaned_data
        tz = data.get("timezone") or "UTC"
        zone_get(tz)
        kind = data.get("schedule_type")
        if kind == "one_time":
            if not data.get("at_date"):
                raise ScheduleError("at", "Choose the date to send on.")
            wall = datetime.datetime.combine(
                data["at_date"], data.get("at_time") or datetime.time(9)
            )
            return Schedule(
                kind=kind,
                timezone=tz,
                at=wall.replace(tzinfo=zone_get(tz)),
                learner_local=bool(data.get("learner_local_time")),
            )
        if not data.get("time"):
            raise ScheduleError("time", "Choose the time of day.")
        rule = self.rrule()
        rrule_parse(rule, start=datetime.datetime(2000, 1, 1))
        return Schedule(
            kind="recurring",
            timezone=tz,
            rule=rule,
            start_date=data.get("start") or datetime.date.today(),
            time=data["time"],
            learner_local=bool(data.get("learner_local_time")),
        )

    # --- the services' errors beside the fields -------------------------------------------

    def add_service_errors(self, error: DomainValidationError) -> None:
        """Show each of the service's path errors beside its field (audience paths and
        unknown ones above the form, with their path)."""
        for path, messages in error.fields.items():
            texts = messages if isinstance(messages, list) else [str(messages)]
            texts = [str(t) for t in texts]
            step = re.match(r"schedule\.steps\[(\d+)\](?:\.(\w+))?$", path)
            if step and int(step.group(1)) < len(self._kept_steps()):
                form = self._kept_steps()[int(step.group(1))]
                field = step.group(2) if step.group(2) in form.fields else None
                for text in texts:
                    form.add_error(field, text)
            elif path in self.PATHS and self.PATHS[path] in self.fields:
                for text in texts:
                    self.add_error(self.PATHS[path], text)
            elif path == "filter_json":
                for text in texts:
                    self.add_error("filter_json", text)
            elif path == "audience" or path.startswith("audience."):
                inner = path.removeprefix("audience").removeprefix(".").removeprefix("filter.")
                self.audience_errors += [f"{inner}: {t}" if inner else t for t in texts]
            elif path == "schedule.steps":
                self.steps_errors = texts
            else:
                for text in texts:
                    plain = path in ("non_field_errors", "status")
                    self.add_error(None, text if plain else f"{path}: {text}")

    def _kept_steps(self) -> list[forms.Form]:
        return [f for f in self.steps.forms if f.step() is not None]


def leaf(row: Mapping[str, str], spec: Mapping[str, Any]) -> dict[str, Any]:
    """One condition row as a filter leaf, its value read as the field's type wants (a
    list for in/not_in, yes/no for is_set); what does not read is passed on as typed, for
    the filter's validation to name."""
    out: dict[str, Any] = {"field": row["field"], "op": row["op"]}
    names = parameter_names(spec)
    key = row.get("param_key") if row.get("param_key") in names else (names[:1] or [""])[0]
    if key and row.get("param", "").strip() != "":
        param = row["param"].strip()
        out[key] = int(param) if key == "campaign" and param.isdigit() else param
    op, raw = row["op"], row.get("value", "")
    if op in FLAG_OPS or str(spec.get("type")) == "boolean":
        out["value"] = raw != "false"
    elif op in LIST_OPS:
        out["value"] = [typed(part.strip(), spec) for part in raw.split(",") if part.strip()]
    elif raw != "":
        out["value"] = typed(raw.strip(), spec)
    return out


def parameter_names(spec: Mapping[str, Any]) -> list[str]:
    """The names of a field's parameters (e.g. a signal's or a campaign's), however listed."""
    params = spec.get("parameters") or []
    if isinstance(params, Mapping):
        return list(params)
    return [p["name"] if isinstance(p, Mapping) else str(p) for p in params]


NUMERIC_TYPES = ("number", "integer", "days")


def typed(raw: str, spec: Mapping[str, Any]) -> Any:
    """`raw` as the field's type: a number for numeric fields, true/false for booleans."""
    kind = str(spec.get("value") or spec.get("type", "")).lower()
    if kind in NUMERIC_TYPES:
        try:
            return int(raw)
        except ValueError:
            try:
                return float(raw)
            except ValueError:
                return raw
    if kind in ("bool", "boolean"):
        return raw.lower() in ("true", "yes", "1", "on")
    return raw


def rows_of(filter_: Any) -> tuple[str, list[dict[str, str]]] | None:
    """(all/any, condition rows) of a flat filter the rows can show, or None."""
    if isinstance(filter_, Mapping) and "field" in filter_:
        filter_ = {"all": [filter_]}
    if not isinstance(filter_, Mapping) or len(filter_) != 1:
        return None
    match = next(iter(filter_))
    leaves = filter_[match]
    if match not in ("all", "any") or not isinstance(leaves, list):
        return None
    rows = []
    for item in leaves:
        if not isinstance(item, Mapping) or "field" not in item or "op" not in item:
            return None
        extra = [k for k in item if k not in ("field", "op", "value")]
        if len(extra) > 1:
            return None
        value = item.get("value", "")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        rows.append(
            {
                "field": str(item["field"]),
                "op": str(item["op"]),
                "value": str(value),
                "param": str(item[extra[0]]) if extra else "",
                "param_key": extra[0] if extra else "",
            }
        )
    return match, rows


def initial_of(spec: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The builder's initial values (and condition rows) for a campaign's spec."""
    schedule = spec.get("schedule") or {}
    audience = spec.get("audience") or {}
    initial: dict[str, Any] = {
        "name": spec.get("name", ""),
        "description": spec.get("description", ""),
        "channel": spec.get("channel"),
        "template": spec.get("template") or "",
        "learner_local_time": spec.get("learner_local_time", False),
        "rate_per_minute": spec.get("rate_per_minute", 0),
        "holdout_percent": spec.get("holdout_percent", 10),
        "schedule_type": schedule.get("type", "one_time"),
        "timezone": schedule.get("timezone", "UTC"),
    }
    rows: list[dict[str, str]] = []
    if "segment" in audience:
        initial.update(audience_mode="segment", segment=audience["segment"])
    else:
        initial["audience_mode"] = "filter"
        flat = rows_of(audience.get("filter"))
        if flat:
            initial["match"], rows = flat
        else:
            initial["filter_json"] = json.dumps(audience.get("filter"), indent=2)
    kind = schedule.get("type")
    if kind == "one_time" and schedule.get("at"):
        at = datetime.datetime.fromisoformat(schedule["at"])
        initial.update(at_date=at.date(), at_time=at.time().replace(second=0, microsecond=0))
    elif kind == "recurring":
        initial.update(time=schedule.get("time"), start=schedule.get("start"))
        initial.update(rrule_fields(schedule.get("rrule") or ""))
    elif kind == "drip":
        initial.update(
            anchor=schedule.get("anchor"),
            course=schedule.get("course") or "",
            exit=schedule.get("exit") or [],
            steps=schedule.get("steps") or [],
        )
    return initial, rows


def rrule_fields(rule: str) -> dict[str, Any]:
    """The recurrence choices that make `rule`, or the rule as written when they cannot."""
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    frequency = parts.pop("FREQ", "").lower()
    out: dict[str, Any] = {"frequency": frequency, "ends": "never"}
    if "BYDAY" in parts and frequency == "weekly":
        out["weekdays"] = parts.pop("BYDAY").split(",")
    if "BYMONTHDAY" in parts and frequency == "monthly" and parts["BYMONTHDAY"].isdigit():
        out["monthday"] = int(parts.pop("BYMONTHDAY"))
    if "UNTIL" in parts and re.fullmatch(r"\d{8}(T235959Z?)?", parts["UNTIL"]):
        value = parts.pop("UNTIL")
        out.update(
            ends="until", until=datetime.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        )
    elif "COUNT" in parts and parts["COUNT"].isdigit():
        out.update(ends="count", count=int(parts.pop("COUNT")))
    if parts or frequency not in dict(FREQUENCIES):
        return {
            "rrule_text": rule,
            "frequency": frequency if frequency in dict(FREQUENCIES) else "",
        }
    return out
