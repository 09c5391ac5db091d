"""The confirmation of a retry: how many posts the person saw and agreed to retry."""

from __future__ import annotations

from django import forms

from posts.selectors import MAX_ITEMS


class RetryConfirmForm(forms.Form):
    expected_count = forms.IntegerField(min_value=1, max_value=MAX_ITEMS)
