"""The forms of the publishing pages: asset metadata, a new asset, a new version, Markdown written in the browser,
and the defaults of a bulk import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import HiddenField, IntegerField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from kb.bulk_import import ImportDefaults
from kb.models import ASSET_KINDS, SEGMENTS, AssetStatus
from kb.publishing import AssetFields, parse_tags
from kb.vocabularies import VocabularyList
from kb.web.templating import content_language_label, kind_label


class CheckboxList(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class AssetForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    kind = SelectField(_l("Kind"), validators=[DataRequired()])
    product = StringField(_l("Product"), validators=[Length(max=120)])
    segments = CheckboxList(_l("Segments"), choices=[SelectChoice(s, s) for s in SEGMENTS])
    region = StringField(_l("Region"), validators=[Length(max=120)])
    language = SelectField(_l("Language of the content"))
    owner_id = SelectField(_l("Owner"), coerce=int)
    review_interval_days = IntegerField(
        _l("Review every (days)"), validators=[Optional(), NumberRange(min=1, max=3650)]
    )
    tags = StringField(_l("Tags"), validators=[Length(max=2000)])
    # Checked against the database when saving (kb.audiences.parse_ids), so an unknown id gets its own message.
    audiences = CheckboxList(_l("Audience"), validate_choice=False)

    def __init__(
        self,
        *args: Any,
        owners: list[Any] = (),
        vocabularies: Mapping[str, VocabularyList] | None = None,
        audiences: list[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.audiences.choices = [SelectChoice(str(a.id), a.name) for a in audiences]
        self.kind.choices = [SelectChoice(k, kind_label(k)) for k in ASSET_KINDS]
        self.language.choices = [SelectChoice(code, content_language_label(code)) for code in ("ru", "en", "mixed")]
        self.owner_id.choices = [SelectChoice(u.id, f"{u.display_name} ({u.email})") for u in owners]
        #: The product and region lists, offered as the person types (``<datalist>``, no script needed).
        self.vocabularies = dict(vocabularies or {})
        for name in self.vocabularies:
            getattr(self, name).render_kw = {"list": f"{name}-terms", "autocomplete": "off"}

    def fields(self) -> AssetFields:
        return AssetFields(
            title=self.title.data or "",
            kind=self.kind.data or "",
            description=self.description.data or "",
            product=self.product.data or "",
            segments=list(self.segments.data or []),
            region=self.region.data or "",
            language=self.language.data or "ru",
            owner_id=self.owner_id.data,
            review_interval_days=self.review_interval_days.data,
            tags=parse_tags(self.tags.data),
            audiences=list(self.audiences.data or []),
        )


class NewAssetForm(AssetForm):
    # Empty with a file: publishing titles the asset after the file's name (Markdown needs a title).
    title = StringField(_l("Title"), validators=[Length(max=300)])
    file = FileField(_l("File"))
    kept_file = HiddenField()
    markdown = TextAreaField(_l("Text (Markdown)"))
    change_note = StringField(_l("Note"), validators=[Length(max=2000)])
    status = RadioField(_l("Publish"), default=AssetStatus.PUBLISHED)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [
            SelectChoice(AssetStatus.PUBLISHED.value, _l("Publish now")),
            SelectChoice(AssetStatus.DRAFT.value, _l("Save as a draft (visible to marketing only)")),
        ]


class VersionForm(FlaskForm):
    file = FileField(_l("File"))
    kept_file = HiddenField()
    change_note = StringField(_l("What changed"), validators=[DataRequired(), Length(max=2000)])


class MarkdownForm(FlaskForm):
    markdown = TextAreaField(_l("Text (Markdown)"), validators=[DataRequired()])
    change_note = StringField(_l("What changed"), validators=[DataRequired(), Length(max=2000)])


class ImportForm(FlaskForm):
    """Many files at once: the files (or a ZIP, or a folder), an optional manifest, and the metadata every file
    gets unless the manifest says otherwise."""

    files = MultipleFileField(_l("Files or a ZIP"))
    manifest = FileField(_l("Manifest (CSV, optional)"))
    # Kind and language are checked by the import itself, whose message names the accepted values.
    kind = SelectField(_l("Kind"), validate_choice=False)
    product = StringField(_l("Product"), validators=[Length(max=120)])
    segments = CheckboxList(_l("Segments"), choices=[SelectChoice(s, s) for s in SEGMENTS])
    region = StringField(_l("Region"), validators=[Length(max=120)])
    language = SelectField(_l("Language of the content"), validate_choice=False)
    owner_id = SelectField(_l("Owner"), coerce=int)
    tags = StringField(_l("Tags"), validators=[Length(max=2000)])
    audiences = CheckboxList(_l("Audience"), validate_choice=False)  # checked when importing (parse_ids)
    status = RadioField(_l("Publish"), default=AssetStatus.PUBLISHED)

    def __init__(
        self,
        *args: Any,
        owners: list[Any] = (),
        vocabularies: Mapping[str, VocabularyList] | None = None,
        audiences: list[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.audiences.choices = [SelectChoice(str(a.id), a.name) for a in audiences]
        self.kind.choices = [
            SelectChoice("", _l("Choose a kind")),
            *(SelectChoice(k, kind_label(k)) for k in ASSET_KINDS),
        ]
        self.language.choices = [SelectChoice(code, content_language_label(code)) for code in ("ru", "en", "mixed")]
        self.owner_id.choices = [SelectChoice(u.id, f"{u.display_name} ({u.email})") for u in owners]
        self.status.choices = [
            SelectChoice(AssetStatus.PUBLISHED.value, _l("Publish now")),
            SelectChoice(AssetStatus.DRAFT.value, _l("Save as drafts (visible to marketing only)")),
        ]
        self.vocabularies = dict(vocabularies or {})
        for name in self.vocabularies:
            getattr(self, name).render_kw = {"list": f"{name}-terms", "autocomplete": "off"}

    def defaults(self) -> ImportDefaults:
        return ImportDefaults(
            kind=self.kind.data or "",
            owner_id=self.owner_id.data,
            product=self.product.data or "",
            region=self.region.data or "",
            language=self.language.data or "ru",
            segments=tuple(self.segments.data or ()),
            tags=tuple(parse_tags(self.tags.data)),
            status=AssetStatus(self.status.data),
            audiences=tuple(self.audiences.data or ()),
        )
