//! The interface's language: Spanish (first) or English, chosen from the browser's preferred languages or
//! the person's choice in the settings.
//!
//! The texts themselves live in `locales/es.json` and `locales/en.json` and are compiled by `leptos_i18n`
//! (see `build.rs` and, on wasm32, [`crate::texts`]): a key missing from one language, an extra key or a
//! placeholder one language lacks stops the build. The tests here check the same files on every target.

/// A language of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Spanish, the default for people whose browser prefers it.
    Es,
    /// English, for everyone else.
    En,
}

impl Lang {
    /// Picks the language from the browser's preference list (`navigator.languages`): the first entry that
    /// is Spanish or English wins; with neither, English.
    pub fn from_preferences<'a>(preferred: impl IntoIterator<Item = &'a str>) -> Lang {
        for tag in preferred {
            if let Some(lang) = Lang::from_tag(tag) {
                return lang;
            }
        }
        Lang::En
    }

    /// The language of a BCP 47 tag (`es-AR` → Spanish), if it is one of ours.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("es") {
            Some(Lang::Es)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn spanish_when_preferred() {
        assert_eq!(Lang::from_preferences(["es-AR", "en"]), Lang::Es);
        assert_eq!(Lang::from_preferences(["fr", "ES"]), Lang::Es);
        assert_eq!(Lang::from_preferences(["es_419"]), Lang::Es);
    }

    #[test]
    fn english_otherwise() {
        assert_eq!(Lang::from_preferences(["en-GB", "es"]), Lang::En);
        assert_eq!(Lang::from_preferences(["de", "fr"]), Lang::En);
        assert_eq!(Lang::from_preferences([]), Lang::En);
        assert_eq!(Lang::from_preferences(["estonian-not-a-tag"]), Lang::En);
    }

    const ES_JSON: &str = include_str!("../locales/es.json");
    const EN_JSON: &str = include_str!("../locales/en.json");

    fn texts(json: &str) -> BTreeMap<String, String> {
        serde_json::from_str(json).expect("a flat object of strings")
    }

    /// The `{{ name }}` placeholders of a text, sorted.
    fn placeholders(text: &str) -> Vec<String> {
        let mut names: Vec<String> = text
            .split("{{")
            .skip(1)
            .filter_map(|rest| rest.split_once("}}"))
            .map(|(name, _)| name.trim().to_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn both_languages_have_the_same_keys_none_empty_and_the_same_placeholders() {
        let es = texts(ES_JSON);
        let en = texts(EN_JSON);
        assert_eq!(es.keys().collect::<Vec<_>>(), en.keys().collect::<Vec<_>>());
        assert!(es.len() > 200, "{} texts", es.len());
        for (key, spanish) in &es {
            let english = &en[key];
            assert!(!spanish.trim().is_empty(), "es: {key} is empty");
            assert!(!english.trim().is_empty(), "en: {key} is empty");
            assert_eq!(placeholders(spanish), placeholders(english), "{key}");
            // A lone brace is a placeholder written without the double braces: it would show as typed.
            let single = |t: &str| t.replace("{{", "").replace("}}", "").contains(['{', '}']);
            assert!(!single(spanish) && !single(english), "{key}: stray brace");
        }
        assert_eq!(es["connected"], "Conectado");
        assert_eq!(en["connected"], "Connected");
        assert_eq!(
            placeholders(&en["padlock_now"]),
            vec!["jid".to_owned(), "state".to_owned()]
        );
    }
}
