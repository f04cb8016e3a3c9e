//! Secret placeholders in env values and derived-file templates:
//! `${secret:NAME}` (the app's own generated secret) and
//! `${app:ID:secret:NAME}` (a secret of the app `ID` this app depends on).
//! Any other `${...}` is left as it is, so shell-style text passes through.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRef<'a> {
    Own(&'a str),
    App { app: &'a str, name: &'a str },
}

impl fmt::Display for SecretRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Own(name) => write!(f, "${{secret:{name}}}"),
            SecretRef::App { app, name } => write!(f, "${{app:{app}:secret:{name}}}"),
        }
    }
}

/// A placeholder whose secret the caller could not supply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no value for {reference}")]
pub struct MissingSecret {
    pub reference: String,
}

/// Every secret placeholder in `text`, in order.
pub fn secret_refs(text: &str) -> Vec<SecretRef<'_>> {
    placeholders(text).map(|(_, r)| r).collect()
}

/// `text` with each placeholder replaced by `lookup(reference)`.
pub fn render(
    text: &str,
    mut lookup: impl FnMut(SecretRef<'_>) -> Option<String>,
) -> Result<String, MissingSecret> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (span, reference) in placeholders(text) {
        let value = lookup(reference).ok_or_else(|| MissingSecret {
            reference: reference.to_string(),
        })?;
        out.push_str(&text[copied..span.start]);
        out.push_str(&value);
        copied = span.end;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

fn placeholders(text: &str) -> impl Iterator<Item = (std::ops::Range<usize>, SecretRef<'_>)> {
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let start = from + text[from..].find("${")?;
        let end = start + text[start..].find('}')? + 1;
        from = start + 2;
        if let Some(reference) = parse(&text[start + 2..end - 1]) {
            from = end;
            return Some((start..end, reference));
        }
    })
}

fn parse(inner: &str) -> Option<SecretRef<'_>> {
    if let Some(name) = inner.strip_prefix("secret:") {
        return Some(SecretRef::Own(name));
    }
    let (app, name) = inner.strip_prefix("app:")?.split_once(":secret:")?;
    Some(SecretRef::App { app, name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_own_and_cross_app_references_and_skips_others() {
        let text = "a=${secret:rpc} b=${HOME} c=${app:bitcoin:secret:rpc-password}";
        assert_eq!(
            secret_refs(text),
            vec![
                SecretRef::Own("rpc"),
                SecretRef::App {
                    app: "bitcoin",
                    name: "rpc-password"
                }
            ]
        );
    }

    #[test]
    fn render_replaces_placeholders_and_keeps_the_rest() {
        let out = render("u=${HOME} p=${secret:pw}!", |r| match r {
            SecretRef::Own("pw") => Some("s3cret".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(out, "u=${HOME} p=s3cret!");
    }

    #[test]
    fn render_names_the_missing_reference() {
        let err = render("x=${secret:nope}", |_| None).unwrap_err();
        assert_eq!(err.reference, "${secret:nope}");
    }
}
