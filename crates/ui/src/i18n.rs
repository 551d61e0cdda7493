//! Interface texts in Spanish (first) and English, chosen from the browser's preferred languages.

/// A language of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
            let primary = tag.split(['-', '_']).next().unwrap_or("");
            if primary.eq_ignore_ascii_case("es") {
                return Lang::Es;
            }
            if primary.eq_ignore_ascii_case("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The texts in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }
}

/// Every text of the interface, one field each.
#[derive(Debug)]
pub struct Texts {
    pub tagline: &'static str,
    pub server_label: &'static str,
    pub starting: &'static str,
    pub disconnected: &'static str,
    pub connecting: &'static str,
    pub connected: &'static str,
    pub failed: &'static str,
    pub unreachable_help: &'static str,
    pub not_xmpp_help: &'static str,
    pub invalid_url_help: &'static str,
    pub stream_error_help: &'static str,
    pub config_error: &'static str,
    pub worker_error: &'static str,
    pub retry: &'static str,
}

static ES: Texts = Texts {
    tagline: "Chat cifrado de punta a punta para organizaciones.",
    server_label: "Servidor",
    starting: "Iniciando…",
    disconnected: "Desconectado",
    connecting: "Conectando…",
    connected: "Conectado",
    failed: "No se pudo conectar con el servidor",
    unreachable_help: "El servidor no responde. Revisá tu conexión a internet o probá más tarde.",
    not_xmpp_help:
        "La dirección responde, pero no es un servidor XMPP. Revisá la dirección del servidor.",
    invalid_url_help: "La dirección del servidor no es válida (debe empezar con wss:// o ws://).",
    stream_error_help: "El servidor cerró la conexión con un error.",
    config_error: "La configuración de esta instalación (config.json) no es válida.",
    worker_error: "Este navegador no pudo iniciar Candado (no hay Web Workers).",
    retry: "Reintentar",
};

static EN: Texts = Texts {
    tagline: "End-to-end encrypted chat for organizations.",
    server_label: "Server",
    starting: "Starting…",
    disconnected: "Disconnected",
    connecting: "Connecting…",
    connected: "Connected",
    failed: "Could not connect to the server",
    unreachable_help:
        "The server does not answer. Check your internet connection or try again later.",
    not_xmpp_help: "The address answers, but it is not an XMPP server. Check the server address.",
    invalid_url_help: "The server address is not valid (it must start with wss:// or ws://).",
    stream_error_help: "The server closed the connection with an error.",
    config_error: "This installation's configuration (config.json) is not valid.",
    worker_error: "This browser could not start Candado (no Web Workers).",
    retry: "Try again",
};

#[cfg(test)]
mod tests {
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

    #[test]
    fn both_languages_fill_every_text() {
        for lang in [Lang::Es, Lang::En] {
            let t = lang.texts();
            for s in [
                t.tagline,
                t.server_label,
                t.starting,
                t.disconnected,
                t.connecting,
                t.connected,
                t.failed,
                t.unreachable_help,
                t.not_xmpp_help,
                t.invalid_url_help,
                t.stream_error_help,
                t.config_error,
                t.worker_error,
                t.retry,
            ] {
                assert!(!s.trim().is_empty());
            }
        }
        assert_ne!(Lang::Es.texts().connected, Lang::En.texts().connected);
    }
}
