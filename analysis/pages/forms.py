"""Forms of the search page: upload a part, or pick a stored one by name."""

from __future__ import annotations

from django import forms

RESULTS_SHOWN = 12


class PartUploadForm(forms.Form):
    file = forms.FileField(label="CAD file (DXF, STL, STEP, IGES, OBJ)")
    add_to_library = forms.BooleanField(
        required=False, label="Add to the library",
        help_text="Register the part so that later searches find it (needs the 'Can add vector' permission).")

    def __init__(self, *args, can_add: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.can_add = can_add
        if not can_add:
            del self.fields["add_to_library"]


class PartPickForm(forms.Form):
    q = forms.CharField(label="Find a stored part by name (or sha256 prefix)", max_length=200, required=False)
    file = forms.RegexField(regex=r"^[0-9a-fA-F]{64}$", required=False, widget=forms.HiddenInput)
