"""The dashboard's forms (Flask-WTF: each carries its CSRF token). Every form on one page has a
prefix of its own, so their fields' ids never clash."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

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
