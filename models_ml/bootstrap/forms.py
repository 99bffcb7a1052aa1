from django import forms
from django.utils.translation import gettext_lazy as _


class DatasetImportForm(forms.Form):
    """A folder (or .zip) on the server, or an uploaded .zip."""

    path = forms.CharField(label=_("Folder or .zip file on the server"), required=False, max_length=1000)
    upload = forms.FileField(label=_("or upload a .zip file"), required=False)
    update = forms.BooleanField(label=_("Replace imported dialogues whose file changed"), required=False)
