"""The dashboard's forms (Flask-WTF: each carries its CSRF token). Every form on one page has a
prefix of its own, so their fields' ids never clash."""
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length

from app.services.subjects.requests import KINDS
from app.services.subjects.selectors import SELECTORS
from app.services.users.passwords import MAX_LENGTH, MIN_LENGTH


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "spellcheck": "false"})
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[InputRequired(), Length(max=16)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"})


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                                 render_kw={"autocomplete": "new-password", "minlength": MIN_LENGTH})
    repeat_password = PasswordField("Repeat the new password", validators=[
        InputRequired(), EqualTo("new_password", message="The two new passwords differ.")],
        render_kw={"autocomplete": "new-password"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="password", **kwargs)


class SetUpSecondFactorForm(FlaskForm):
    """A button only: start (or start again) setting up a second factor."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="setup", **kwargs)


class EnableSecondFactorForm(FlaskForm):
    code = StringField("Code from your app", validators=[InputRequired(), Length(max=16)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="enable", **kwargs)


class RemoveSecondFactorForm(FlaskForm):
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="remove", **kwargs)


# how the form names the register's kinds and selectors (app/services/subjects/)
KIND_CHOICES = {"access": "Access: a copy of their data", "erasure": "Erasure", "rectification": "Rectification",
                "objection": "Objection"}
SELECTOR_CHOICES = {"email": "Email", "visitor_id": "Visitor id", "external_id": "External id",
                    "person_id": "Person id"}


class SubjectRequestForm(FlaskForm):
    """A data subject's request for the register: its kind, whom it is about (one identifier), when
    it was received. The identifier is checked as the API checks it (app/admin/subject_requests.py)."""

    kind = SelectField("Kind", choices=[SelectChoice(k, KIND_CHOICES.get(k, k)) for k in KINDS])
    # an email first: what a person writing in most often gives
    selector = SelectField("Identified by", choices=[SelectChoice(k, SELECTOR_CHOICES.get(k, k)) for k in
                                                     sorted(SELECTORS, key=lambda k: k != "email")])
    value = StringField("Identifier", validators=[InputRequired(), Length(max=320)],
                        render_kw={"autocomplete": "off", "spellcheck": "false"})
    received_at = DateField("Received on (UTC)", validators=[InputRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="request", **kwargs)


class ConfirmErasureForm(FlaskForm):
    """The last step before an erasure: the word typed, so that no stray click erases anyone."""

    confirm = StringField("Type ERASE to confirm", validators=[InputRequired()],
                          render_kw={"autocomplete": "off", "spellcheck": "false"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="erase", **kwargs)
