"""The create/edit form: the model's own help texts explain each field; ``Check.clean()`` is
the validation (the same the API and the admin use)."""

from __future__ import annotations

from django import forms

from checks.models import EDITABLE_FIELDS, Check


class CheckForm(forms.ModelForm):
    class Meta:
        model = Check
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "expect": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "request": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "channels": forms.CheckboxSelectMultiple,
        }
