//! Messages from libpurple-based clients (Pidgin, Adium) inside OTR carry HTML: `<FONT>`, `<A HREF>`,
//! `<BR>`, entities. The app shows every message as text, so such a message is turned into the text a
//! person meant; anything else is left exactly as typed.
//!
//! A message is read as HTML only when all of it parses as libpurple writes HTML: every `<` opens a
//! tag from a short list of formatting tags, every `&` starts a known entity, and there is at least
//! one of either. A person typing `<b>Yes</b> & more` in Candado (a bare `&`) or `2 < 3` keeps their
//! text as is. Nothing here ever produces markup: the result is plain text.

/// Formatting tags libpurple clients put in messages (case-insensitive).
const TAGS: [&str; 16] = [
    "a", "b", "body", "br", "em", "font", "html", "i", "p", "s", "span", "strong", "sub", "sup",
    "u", "strike",
];

/// `text` as plain text if it is libpurple-style HTML; otherwise `None` (show it as it is).
pub fn html_to_text(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut saw_markup = false;
    while let Some(i) = rest.find(['<', '&', '>']) {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        if at.starts_with('>') {
            return None; // a bare '>' is not something libpurple writes
        }
        if let Some(tag_and_rest) = at.strip_prefix('<') {
            let end = tag_and_rest.find('>')?;
            let (tag, after) = tag_and_rest.split_at(end);
            let name = tag_name(tag)?;
            if name.eq_ignore_ascii_case("br")
                || (name.eq_ignore_ascii_case("p") && is_closing(tag))
            {
                out.push('\n');
            }
            rest = after.get(1..).unwrap_or("");
        } else {
            let entity_and_rest = at.get(1..).unwrap_or("");
            let end = entity_and_rest.find(';')?;
            let (entity, after) = entity_and_rest.split_at(end);
            out.push(decode_entity(entity)?);
            rest = after.get(1..).unwrap_or("");
        }
        saw_markup = true;
    }
    out.push_str(rest);
    saw_markup.then_some(out)
}

fn is_closing(tag: &str) -> bool {
    tag.starts_with('/')
}

/// The name of a tag body like `/font`, `A HREF="x"` or `br/`, if it is one we accept.
fn tag_name(tag: &str) -> Option<&str> {
    let tag = tag.strip_prefix('/').unwrap_or(tag);
    let tag = tag.strip_suffix('/').unwrap_or(tag);
    let name_end = tag
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(tag.len());
    let name = tag.get(..name_end)?;
    TAGS.iter()
        .any(|t| t.eq_ignore_ascii_case(name))
        .then_some(name)
}

fn decode_entity(entity: &str) -> Option<char> {
    match entity {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let number = entity.strip_prefix('#')?;
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(value).filter(|c| *c != '\0')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn pidgin_formatting_becomes_text() {
        assert_eq!(
            html_to_text("<FONT COLOR=\"#ff0000\">hola</FONT> <B>Bob</B>").as_deref(),
            Some("hola Bob")
        );
        assert_eq!(
            html_to_text("a &lt;b&gt; &amp; c&#33;&#x21;").as_deref(),
            Some("a <b> & c!!")
        );
        assert_eq!(
            html_to_text("line 1<BR>line 2<br/>3").as_deref(),
            Some("line 1\nline 2\n3")
        );
        assert_eq!(
            html_to_text("<A HREF=\"https://example.org\">https://example.org</A>").as_deref(),
            Some("https://example.org")
        );
    }

    #[test]
    fn typed_text_stays_as_typed() {
        for text in [
            "hola",
            "<b>Yes</b> & more",
            "2 < 3 and 5 > 4",
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "AT&T",
            "&unknown;",
            "&#0;",
            "<b",
            "",
        ] {
            assert_eq!(html_to_text(text), None, "{text:?}");
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        for text in [
            "&#xFFFFFFFFFF;",
            "&#99999999;",
            "<>",
            "</>",
            "&;",
            "<br",
            "\u{0}<b>",
        ] {
            let _ = html_to_text(text);
        }
    }
}
