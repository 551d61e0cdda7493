//! XEP-0077 in-band registration: the server's form (legacy fields or an XEP-0004 data form,
//! possibly an XEP-0158 CAPTCHA with XEP-0231 media), and the submission.
//!
//! The username and password are never typed into a submission by the owner: the session
//! fills them from [`crate::Config`], so the password never travels inside a `Command`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use minidom::Element;
use xmpp_parsers::data_forms::{DataForm, Field, FieldType};

use crate::credentials::Password;

/// `jabber:iq:register`.
pub(crate) const NS_REGISTER: &str = "jabber:iq:register";
const NS_DATA_FORMS: &str = "jabber:x:data";
const NS_BOB: &str = "urn:xmpp:bob";

/// Legacy XEP-0077 §14.1 field names; only these may appear as elements in a legacy form.
const LEGACY_FIELDS: &[&str] = &[
    "username", "nick", "password", "name", "first", "last", "email", "address", "city", "state",
    "zip", "phone", "url", "date", "misc", "text", "key",
];

/// Vars the session fills in itself.
const USERNAME: &str = "username";
const PASSWORD: &str = "password";

/// What the server wants to know to create an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationForm {
    /// Form title (data forms only).
    pub title: Option<String>,
    /// Instructions for the user.
    pub instructions: Option<String>,
    /// The fields, in the server's order. `username` and `password` are filled in by the
    /// session; hidden fields are returned as the server sent them.
    pub fields: Vec<FormField>,
    /// `true` for an XEP-0004 data form, `false` for legacy XEP-0077 fields.
    pub data_form: bool,
    /// The account already exists (`<registered/>`).
    pub registered: bool,
    /// XEP-0231 data (e.g. a CAPTCHA image) the form's media refer to by `cid:` URI.
    pub media: Vec<MediaData>,
}

impl RegistrationForm {
    /// The FORM_TYPE, e.g. `urn:xmpp:captcha` for an XEP-0158 challenge.
    pub fn form_type(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.var == "FORM_TYPE")
            .and_then(|f| f.values.first())
            .map(String::as_str)
    }
}

/// One field of a registration form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The field name (`var`); for legacy forms the element name.
    pub var: String,
    /// XEP-0004 type: `text-single`, `text-private`, `hidden`, `list-single`, `boolean`, …
    pub kind: String,
    /// Label for the user.
    pub label: Option<String>,
    /// Description for the user.
    pub desc: Option<String>,
    /// Must be filled in.
    pub required: bool,
    /// Current or default values.
    pub values: Vec<String>,
    /// Choices for list fields: (label, value).
    pub options: Vec<(Option<String>, String)>,
    /// Media to show with the field (CAPTCHA), as (MIME type, URI); `cid:` URIs point into
    /// [`RegistrationForm::media`].
    pub media: Vec<(String, String)>,
}

/// Bits of binary data sent with the form (XEP-0231), e.g. a CAPTCHA image.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaData {
    /// Content id, as referenced by a `cid:` URI (without the `cid:` prefix).
    pub cid: String,
    /// MIME type, if given.
    pub mime: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

impl core::fmt::Debug for MediaData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MediaData")
            .field("cid", &self.cid)
            .field("mime", &self.mime)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A value the owner gives for one field of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    /// The field's `var`.
    pub var: String,
    /// Its values (one for most field types).
    pub values: Vec<String>,
}

/// Why a submission could not be built. The owner's mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// A value was given for a field the server did not ask for.
    UnknownField(String),
    /// A required field has no value.
    MissingField(String),
    /// The password holds characters XML cannot carry (most control characters).
    UnencodablePassword,
}

impl core::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownField(v) => write!(f, "the form has no field {v}"),
            Self::MissingField(v) => write!(f, "required field {v} has no value"),
            Self::UnencodablePassword => {
                f.write_str("the password contains characters XML cannot carry")
            }
        }
    }
}

/// Reads the `<query xmlns='jabber:iq:register'/>` of a result. `None` if it is not one, or
/// its data form is invalid.
pub(crate) fn parse_form(query: &Element) -> Option<RegistrationForm> {
    if !query.is("query", NS_REGISTER) {
        return None;
    }
    let instructions = query
        .get_child("instructions", NS_REGISTER)
        .map(Element::text);
    let registered = query.has_child("registered", NS_REGISTER);
    let media = query
        .children()
        .filter(|c| c.is("data", NS_BOB))
        .filter_map(bob)
        .collect();
    if let Some(x) = query.get_child("x", NS_DATA_FORMS) {
        let form = DataForm::try_from(x.clone()).ok()?;
        return Some(RegistrationForm {
            title: form.title,
            instructions: form.instructions.or(instructions),
            fields: form.fields.into_iter().filter_map(field).collect(),
            data_form: true,
            registered,
            media,
        });
    }
    let fields = query
        .children()
        .filter(|c| c.ns() == NS_REGISTER && LEGACY_FIELDS.contains(&c.name()))
        .map(|c| FormField {
            var: c.name().to_owned(),
            kind: if c.name() == PASSWORD {
                "text-private".into()
            } else {
                "text-single".into()
            },
            label: None,
            desc: None,
            // XEP-0077 §3.1: every listed legacy field is required.
            required: true,
            values: Some(c.text())
                .filter(|t| !t.is_empty())
                .into_iter()
                .collect(),
            options: Vec::new(),
            media: Vec::new(),
        })
        .collect();
    Some(RegistrationForm {
        title: None,
        instructions,
        fields,
        data_form: false,
        registered,
        media,
    })
}

fn field(f: Field) -> Option<FormField> {
    Some(FormField {
        var: f.var?,
        kind: field_type(&f.type_).to_owned(),
        label: f.label,
        desc: f.desc,
        required: f.required,
        values: f.values,
        options: f.options.into_iter().map(|o| (o.label, o.value)).collect(),
        media: f
            .media
            .into_iter()
            .flat_map(|m| m.uris)
            .map(|u| (u.type_, u.uri))
            .collect(),
    })
}

fn field_type(t: &FieldType) -> &'static str {
    match t {
        FieldType::Boolean => "boolean",
        FieldType::Fixed => "fixed",
        FieldType::Hidden => "hidden",
        FieldType::JidMulti => "jid-multi",
        FieldType::JidSingle => "jid-single",
        FieldType::ListMulti => "list-multi",
        FieldType::ListSingle => "list-single",
        FieldType::TextMulti => "text-multi",
        FieldType::TextPrivate => "text-private",
        FieldType::TextSingle => "text-single",
    }
}

/// XEP-0231 `<data/>`, read by hand: `xmpp_parsers::bob` panics on unknown hash algorithms
/// in the `cid`.
fn bob(data: &Element) -> Option<MediaData> {
    let cid = data.attr("cid")?.to_owned();
    let text: String = data.text().chars().filter(|c| !c.is_whitespace()).collect();
    Some(MediaData {
        cid,
        mime: data.attr("type").map(str::to_owned),
        data: BASE64.decode(text).ok()?,
    })
}

/// Builds the `<query/>` submitting `values` for `form`, with the username and password
/// filled in from the configuration. Hidden fields go back as the server sent them.
pub(crate) fn submission(
    form: &RegistrationForm,
    values: &[FieldValue],
    username: &str,
    password: &Password,
) -> Result<Element, SubmitError> {
    if !password.expose().chars().all(crate::framing::is_xml_char) {
        return Err(SubmitError::UnencodablePassword);
    }
    for v in values {
        if !form.fields.iter().any(|f| f.var == v.var) {
            return Err(SubmitError::UnknownField(v.var.clone()));
        }
    }
    let value_of = |f: &FormField| -> Vec<String> {
        match f.var.as_str() {
            USERNAME => vec![username.to_owned()],
            PASSWORD => vec![password.expose().to_owned()],
            _ => values
                .iter()
                .find(|v| v.var == f.var)
                .map(|v| v.values.clone())
                .unwrap_or_else(|| f.values.clone()),
        }
    };
    let mut query = Element::builder("query", NS_REGISTER).build();
    if form.data_form {
        let mut x = Element::builder("x", NS_DATA_FORMS)
            .attr(minidom::rxml::xml_ncname!("type").to_owned(), "submit")
            .build();
        // Field types are optional in a submit form (XEP-0004 §3.3): var and values only.
        for f in form.fields.iter().filter(|f| f.kind != "fixed") {
            let vals = value_of(f);
            if f.required && vals.iter().all(String::is_empty) {
                return Err(SubmitError::MissingField(f.var.clone()));
            }
            let mut field = Element::builder("field", NS_DATA_FORMS)
                .attr(minidom::rxml::xml_ncname!("var").to_owned(), f.var.as_str())
                .build();
            for v in vals {
                field.append_child(Element::builder("value", NS_DATA_FORMS).append(v).build());
            }
            x.append_child(field);
        }
        query.append_child(x);
    } else {
        for f in &form.fields {
            let vals = value_of(f);
            let value = vals.into_iter().next().unwrap_or_default();
            if value.is_empty() {
                return Err(SubmitError::MissingField(f.var.clone()));
            }
            query.append_child(
                Element::builder(f.var.as_str(), NS_REGISTER)
                    .append(value)
                    .build(),
            );
        }
    }
    Ok(query)
}

/// Password change (XEP-0077 §3.3): username and new password.
pub(crate) fn change_password(username: &str, password: &Password) -> Element {
    Element::builder("query", NS_REGISTER)
        .append(
            Element::builder(USERNAME, NS_REGISTER)
                .append(username)
                .build(),
        )
        .append(
            Element::builder(PASSWORD, NS_REGISTER)
                .append(password.expose())
                .build(),
        )
        .build()
}

/// Account removal (XEP-0077 §3.2).
pub(crate) fn remove() -> Element {
    Element::builder("query", NS_REGISTER)
        .append(Element::builder("remove", NS_REGISTER).build())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{parse_frame, serialise, Limits};

    fn el(s: &str) -> Element {
        parse_frame(s, &Limits::default()).unwrap()
    }

    /// Prosody 0.12 mod_register's answer: legacy fields plus the same as a data form.
    const PROSODY_FORM: &str = "<query xmlns='jabber:iq:register'>\
        <instructions>Choose a username and password for use with this service.</instructions>\
        <username/><password/>\
        <x xmlns='jabber:x:data' type='form'><title>Creating a new account</title>\
        <instructions>Choose a username and password for use with this service.</instructions>\
        <field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>\
        <field var='username' type='text-single' label='Username'><required/></field>\
        <field var='password' type='text-private' label='Password'><required/></field>\
        <field var='email' type='text-single' label='Email'/>\
        </x></query>";

    /// ejabberd with `captcha_protected: true` (XEP-0158 form, XEP-0231 image).
    const CAPTCHA_FORM: &str = "<query xmlns='jabber:iq:register'>\
        <instructions>You need a client that supports x:data and CAPTCHA to register</instructions>\
        <x xmlns='jabber:x:data' type='form'><instructions>Choose a username and password \
        to register with this server</instructions>\
        <field type='hidden' var='FORM_TYPE'><value>urn:xmpp:captcha</value></field>\
        <field type='hidden' var='from'><value>example.com</value></field>\
        <field type='hidden' var='challenge'><value>2834871</value></field>\
        <field type='hidden' var='sid'><value>reg1</value></field>\
        <field type='text-single' var='username' label='User'><required/></field>\
        <field type='text-private' var='password' label='Password'><required/></field>\
        <field type='text-single' var='ocr' label='Enter the text you see'><required/>\
        <media xmlns='urn:xmpp:media-element' height='70' width='170'>\
        <uri type='image/png'>cid:sha1+f24030b8d91d233bac14777be5ab531ca3b9f102@bob.xmpp.org</uri>\
        </media></field></x>\
        <data xmlns='urn:xmpp:bob' cid='sha1+f24030b8d91d233bac14777be5ab531ca3b9f102@bob.xmpp.org' \
        type='image/png' max-age='0'>iVBORw0KGgo=</data></query>";

    #[test]
    fn prosody_form_prefers_the_data_form() {
        let form = parse_form(&el(PROSODY_FORM)).unwrap();
        assert!(form.data_form);
        assert_eq!(form.title.as_deref(), Some("Creating a new account"));
        assert_eq!(form.form_type(), Some("jabber:iq:register"));
        let vars: Vec<_> = form.fields.iter().map(|f| f.var.as_str()).collect();
        assert_eq!(vars, ["FORM_TYPE", "username", "password", "email"]);
        assert!(form.fields[1].required);
        assert_eq!(form.fields[2].kind, "text-private");
        assert!(!form.fields[3].required);
    }

    #[test]
    fn captcha_form_and_media() {
        let form = parse_form(&el(CAPTCHA_FORM)).unwrap();
        assert_eq!(form.form_type(), Some("urn:xmpp:captcha"));
        let ocr = form.fields.iter().find(|f| f.var == "ocr").unwrap();
        assert_eq!(
            ocr.media,
            vec![(
                "image/png".to_owned(),
                "cid:sha1+f24030b8d91d233bac14777be5ab531ca3b9f102@bob.xmpp.org".to_owned()
            )]
        );
        assert_eq!(form.media.len(), 1);
        assert_eq!(form.media[0].mime.as_deref(), Some("image/png"));
        assert_eq!(form.media[0].data, b"\x89PNG\r\n\x1a\n");
        assert!(
            !format!("{:?}", form.media[0]).contains("137"),
            "no bytes in Debug"
        );

        let q = submission(
            &form,
            &[FieldValue {
                var: "ocr".into(),
                values: vec!["7nHL3".into()],
            }],
            "juliet",
            &Password::new("s3cret"),
        )
        .unwrap();
        let x = q.get_child("x", NS_DATA_FORMS).unwrap();
        assert_eq!(x.attr("type"), Some("submit"));
        let value = |var: &str| {
            x.children()
                .find(|f| f.attr("var") == Some(var))
                .map(|f| f.children().map(Element::text).collect::<Vec<_>>())
        };
        assert_eq!(
            value("FORM_TYPE"),
            Some(vec!["urn:xmpp:captcha".to_owned()])
        );
        assert_eq!(value("challenge"), Some(vec!["2834871".to_owned()]));
        assert_eq!(value("sid"), Some(vec!["reg1".to_owned()]));
        assert_eq!(value("username"), Some(vec!["juliet".to_owned()]));
        assert_eq!(value("password"), Some(vec!["s3cret".to_owned()]));
        assert_eq!(value("ocr"), Some(vec!["7nHL3".to_owned()]));
    }

    #[test]
    fn missing_required_and_unknown_fields() {
        let form = parse_form(&el(CAPTCHA_FORM)).unwrap();
        let p = Password::new("p");
        assert_eq!(
            submission(&form, &[], "juliet", &p),
            Err(SubmitError::MissingField("ocr".into()))
        );
        assert_eq!(
            submission(&form, &[], "juliet", &Password::new("\u{1}")),
            Err(SubmitError::UnencodablePassword)
        );
        assert_eq!(
            submission(
                &form,
                &[FieldValue {
                    var: "evil".into(),
                    values: vec![]
                }],
                "juliet",
                &p
            ),
            Err(SubmitError::UnknownField("evil".into()))
        );
    }

    #[test]
    fn legacy_form_round_trip() {
        let form = parse_form(&el(
            "<query xmlns='jabber:iq:register'><instructions>Hi</instructions><username/>\
             <password/><email/><bogus/></query>",
        ))
        .unwrap();
        assert!(!form.data_form);
        let vars: Vec<_> = form.fields.iter().map(|f| f.var.as_str()).collect();
        assert_eq!(vars, ["username", "password", "email"]);
        let q = submission(
            &form,
            &[FieldValue {
                var: "email".into(),
                values: vec!["j@example.com".into()],
            }],
            "juliet",
            &Password::new("pw"),
        )
        .unwrap();
        assert_eq!(
            serialise(&q),
            "<query xmlns='jabber:iq:register'><username>juliet</username>\
             <password>pw</password><email>j@example.com</email></query>"
        );
    }

    #[test]
    fn hostile_forms_do_not_panic() {
        // Unknown hash algorithm in the cid (xmpp-parsers' bob parser would panic here).
        let f = parse_form(&el(
            "<query xmlns='jabber:iq:register'><username/><data xmlns='urn:xmpp:bob' \
             cid='sha512+00@bob.xmpp.org'>AAAA</data><data xmlns='urn:xmpp:bob'>AAAA</data>\
             <data xmlns='urn:xmpp:bob' cid='x'>!!!</data></query>",
        ))
        .unwrap();
        assert_eq!(f.media.len(), 1);
        assert_eq!(f.media[0].cid, "sha512+00@bob.xmpp.org");
        // A data form field without var is invalid: the form is refused, not half-read.
        assert_eq!(
            parse_form(&el(
                "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='form'>\
                 <field type='text-single'/></x></query>"
            )),
            None
        );
        assert_eq!(parse_form(&el("<query xmlns='other'/>")), None);
    }

    #[test]
    fn password_change_and_remove() {
        assert_eq!(
            serialise(&change_password("juliet", &Password::new("n3w"))),
            "<query xmlns='jabber:iq:register'><username>juliet</username>\
             <password>n3w</password></query>"
        );
        assert_eq!(
            serialise(&remove()),
            "<query xmlns='jabber:iq:register'><remove/></query>"
        );
    }
}
