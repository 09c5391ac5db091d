"""Parsing the library's filter (GET) and the bulk-delete steps (POST). Bad input never 500s."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from media.filters import (
    DEFAULT_SORT,
    KIND_LABELS,
    MAX_IDS,
    SORTS,
    USAGES,
    MediaFilter,
    Selection,
    type_valid,
)

SORT_LABELS = {
    "-size": "Largest first",
    "size": "Smallest first",
    "-created": "Newest first",
    "created": "Oldest first",
    "name": "Name A to Z",
    "-name": "Name Z to A",
    "type": "Type A to Z",
    "-type": "Type Z to A",
}


class MediaFilterForm(forms.Form):
    type = forms.CharField(required=False, max_length=101, label="Type")
    older_than = forms.IntegerField(
        required=False, min_value=0, max_value=36500, label="Older than (days)"
    )
    q = forms.CharField(required=False, max_length=200, label="Name contains", strip=True)
    usage = forms.ChoiceField(required=False, choices=USAGES, label="Scheduled posts")
    sort = forms.ChoiceField(
        required=False, choices=[(key, SORT_LABELS[key]) for key in SORTS], label="Sort"
    )

    def clean_type(self) -> str:
        value: str = (self.cleaned_data.get("type") or "").strip().lower()
        if value and not type_valid(value):
            raise ValidationError("Pick a type from the list.")
        return value

    def media_filter(self) -> MediaFilter:
        """The valid part of the filter; invalid fields are ignored (and shown as errors)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return MediaFilter(
            type=data.get("type") or "",
            older_than_days=data.get("older_than"),
            q=data.get("q") or "",
            usage=data.get("usage") or "",
        )

    def sort_key(self) -> str:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return data.get("sort") or DEFAULT_SORT

    def type_choices(self) -> list[tuple[str, str]]:
        """Kinds, plus the exact content type in use (from a breakdown link)."""
        choices = [("", "All types"), *KIND_LABELS.items()]
        current = (self.data.get("type") or "") if self.is_bound else ""
        if current and current not in KIND_LABELS and type_valid(current):
            choices.append((current, current))
        return choices


class IdsField(forms.Field):
    """Mirror ids from checkboxes: positive integers, at most MAX_IDS."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) > MAX_IDS:
            raise ValidationError(
                f"Pick at most {MAX_IDS} files at once, or use “select all matching”."
            )
        ids: list[int] = []
        for raw in values:
            text = str(raw)
            if not text.isascii() or not text.isdigit() or len(text) > 18:
                raise ValidationError("That selection is not valid.")
            ids.append(int(text))
        return sorted(set(ids))


class DeletionForm(MediaFilterForm):
    """Step 1 (the selection) and step 2 (the confirmation) of a bulk deletion."""

    scope = forms.ChoiceField(
        choices=[("ids", "The files picked"), ("all", "Everything matching the filter")]
    )
    media_ids = IdsField(required=False)
    # Step 2 only: which button was pressed on the confirm page.
    confirm = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Not yet"),
            ("all", "Delete all"),
            ("without_in_use", "Leave out files in use"),
        ],
    )
    # What the person saw on the confirm page: the job is never bigger than that.
    expected_count = forms.IntegerField(required=False, min_value=0)
    expected_without_in_use = forms.IntegerField(required=False, min_value=0)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "ids" and not data.get("media_ids"):
            raise ValidationError("pick at least one file first.")
        if data.get("confirm") and data.get("expected_count") is None:
            raise ValidationError("the confirmation is incomplete; please confirm again.")
        return data

    def selection(self, *, leave_out_in_use: bool = False) -> Selection:
        data = self.cleaned_data
        if data["scope"] == "all":
            return Selection(filter=self.media_filter(), leave_out_in_use=leave_out_in_use)
        return Selection(ids=tuple(data["media_ids"]), leave_out_in_use=leave_out_in_use)
