//! The dashboard's languages: which one a request gets, and its texts.
//!
//! The language is chosen on the server for each request: the `purger_lang` cookie (set by the
//! header's switch, and at sign-in from the user's saved preference), else the browser's
//! `Accept-Language`, else English. The server writes it into `<html lang>`; the browser reads it
//! back from there before hydrating, so both render the same words.

mod en;
mod messages;
#[expect(
    missing_docs,
    reason = "each field's English text, in en.rs, is its documentation"
)]
mod texts;
mod zh_cn;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

pub use texts::Texts;

/// The cookie that carries the chosen language.
pub const LOCALE_COOKIE: &str = "purger_lang";

/// A language of the dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    /// English, the default.
    #[default]
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Locale {
    /// Every language, in the order the switch offers them.
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::En];

    /// The BCP 47 tag (`<html lang>`, the cookie, the database).
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The language's own name, as the switch shows it.
    pub fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::ZhCn => "中文",
        }
    }

    /// A tag as sent by a browser or stored: `zh`, `zh-CN`, `zh-Hans-CN`, `en-US`… (any case).
    pub fn parse(tag: &str) -> Option<Locale> {
        let tag = tag.trim().to_ascii_lowercase();
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "en" => Some(Locale::En),
            // Traditional Chinese readers get Simplified rather than English.
            "zh" => Some(Locale::ZhCn),
            _ => None,
        }
    }

    /// The best supported language of an `Accept-Language` header, by quality, then order.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(f32, Locale)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(locale) = Locale::parse(tag) {
                if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, locale));
                }
            }
        }
        best.map(|(_, locale)| locale)
    }

    /// The language's texts.
    pub fn texts(self) -> &'static Texts {
        match self {
            Locale::En => &en::TEXTS,
            Locale::ZhCn => &zh_cn::TEXTS,
        }
    }

    /// A message of the engine (a validation or refusal reason) in this language; English
    /// messages without a translation are shown as they are.
    pub fn message(self, english: &str) -> String {
        match self {
            Locale::En => english.to_owned(),
            Locale::ZhCn => messages::zh_cn(english).unwrap_or_else(|| english.to_owned()),
        }
    }

    /// A whole number with the separators of this language (both group by thousands).
    pub fn number(self, n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

/// The language of the request being served, from its cookie and `Accept-Language`.
#[cfg(feature = "ssr")]
pub fn from_headers(headers: &http::HeaderMap) -> Locale {
    let cookie = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == LOCALE_COOKIE)
        .and_then(|(_, value)| Locale::parse(value));
    cookie
        .or_else(|| {
            headers
                .get(http::header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok())
                .and_then(Locale::from_accept_language)
        })
        .unwrap_or_default()
}

/// The language of this render: on the server the request's, in the browser the one the
/// server wrote into `<html lang>`.
pub fn initial_locale() -> Locale {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .map(|parts| from_headers(&parts.headers))
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|lang| Locale::parse(&lang))
            .unwrap_or_default()
    }
}

/// Puts this render's language into the context of every component.
pub fn provide_locale() -> Locale {
    let locale = initial_locale();
    provide_context(locale);
    locale
}

/// The language in context (English outside of one).
pub fn use_locale() -> Locale {
    use_context::<Locale>().unwrap_or_default()
}

/// The texts of the language in context.
pub fn use_texts() -> &'static Texts {
    use_locale().texts()
}

impl Locale {
    /// What a person reads for a failed server function, in this language.
    pub fn error(self, error: &crate::api::error::AppError) -> String {
        use crate::api::error::AppError;
        let t = self.texts();
        match error {
            AppError::Unauthorized => t.err_unauthorized.to_owned(),
            AppError::Forbidden => t.err_forbidden.to_owned(),
            AppError::NotFound(what) => (t.err_not_found)(&self.message(what)),
            AppError::Invalid(message) | AppError::RateLimited(message) => self.message(message),
            AppError::Busy => t.err_busy.to_owned(),
            AppError::Internal => t.err_internal.to_owned(),
            AppError::Transport(detail) => (t.err_transport)(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_by_their_primary_language() {
        assert_eq!(Locale::parse("zh-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::parse("zh_Hans_CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::parse("EN-us"), Some(Locale::En));
        assert_eq!(Locale::parse("fr"), None);
        for locale in Locale::ALL {
            assert_eq!(Locale::parse(locale.tag()), Some(locale));
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported_quality() {
        assert_eq!(
            Locale::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            Locale::from_accept_language("fr-FR, en;q=0.5, zh;q=0.4"),
            Some(Locale::En)
        );
        assert_eq!(
            Locale::from_accept_language("en;q=0.2, zh-TW;q=0.7"),
            Some(Locale::ZhCn)
        );
        assert_eq!(Locale::from_accept_language("de, fr"), None);
        assert_eq!(Locale::from_accept_language("zh;q=0"), None);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_cookie_wins_over_accept_language() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::ACCEPT_LANGUAGE, "zh-CN".parse().unwrap());
        assert_eq!(from_headers(&headers), Locale::ZhCn);
        headers.insert(
            http::header::COOKIE,
            "purger_session=x; purger_lang=en".parse().unwrap(),
        );
        assert_eq!(from_headers(&headers), Locale::En);
        assert_eq!(from_headers(&http::HeaderMap::new()), Locale::En);
    }

    #[test]
    fn numbers_group_by_thousands() {
        assert_eq!(Locale::En.number(0), "0");
        assert_eq!(Locale::En.number(999), "999");
        assert_eq!(Locale::ZhCn.number(5000), "5,000");
        assert_eq!(Locale::En.number(1234567), "1,234,567");
    }

    #[test]
    fn engine_messages_are_translated_with_their_details() {
        assert_eq!(
            Locale::ZhCn.message("wrong user name or password"),
            "用户名或密码错误"
        );
        assert_eq!(
            Locale::ZhCn.message("not an absolute http(s) URL: not a url"),
            "不是绝对的 http(s) 网址：not a url"
        );
        assert_eq!(
            Locale::En.message("wrong user name or password"),
            "wrong user name or password"
        );
        assert_eq!(Locale::ZhCn.message("something new"), "something new");
    }
}
