//! Limits and checks for the text fields commands carry.
//!
//! Every text has a named maximum; single-line fields refuse control characters so they
//! cannot forge log lines or break CSV exports.

use betbet_protocol::result::ResultCode;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 50;
pub const EMAIL_MAX: usize = 255;
pub const PASSWORD_HASH_MAX: usize = 255;
pub const REFERRAL_CODE_MAX: usize = 20;
pub const TITLE_MAX: usize = 500;
pub const DESCRIPTION_MAX: usize = 10_000;
pub const CATEGORY_MAX: usize = 50;
pub const OUTCOME_TEXT_MAX: usize = 255;
pub const RESOLUTION_SOURCE_MAX: usize = 2_000;
pub const DISPLAY_NAME_MAX: usize = 100;
pub const AVATAR_URL_MAX: usize = 500;
pub const BIO_MAX: usize = 2_000;
pub const TIMEZONE_MAX: usize = 50;
pub const LANGUAGE_MAX: usize = 10;
pub const SETTINGS_MAX: usize = 4_096;
pub const MEMO_MAX: usize = 500;
pub const POOL_NAME_MAX: usize = 255;
pub const PROVIDER_MAX: usize = 50;
pub const DEVICE_INFO_MAX: usize = 500;
pub const IP_ADDRESS_MAX: usize = 45;
pub const DOCUMENT_TYPE_MAX: usize = 50;
pub const DOCUMENT_URL_MAX: usize = 500;
pub const CONTENT_TYPE_MAX: usize = 100;
pub const NOTES_MAX: usize = 2_000;
pub const DISPUTE_REASON_MAX: usize = 2_000;
pub const REFERENCE_MAX: usize = 255;
pub const SEALED_DETAILS_MAX: usize = 4_096;
pub const DISPLAY_HINT_MAX: usize = 64;

/// A one-line text of 1..=max characters without control characters.
pub fn line(text: &str, max: usize) -> Result<(), ResultCode> {
    if text.chars().count() > max {
        return Err(ResultCode::TextTooLong);
    }
    if text.trim().is_empty() || text.chars().any(char::is_control) {
        return Err(ResultCode::InvalidText);
    }
    Ok(())
}

/// Like [`line`] but may be empty.
pub fn optional_line(text: &str, max: usize) -> Result<(), ResultCode> {
    if text.is_empty() {
        return Ok(());
    }
    line(text, max)
}

/// A multi-line text of at most `max` characters; newlines and tabs are fine, other control
/// characters are not.
pub fn body(text: &str, max: usize) -> Result<(), ResultCode> {
    if text.chars().count() > max {
        return Err(ResultCode::TextTooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ResultCode::InvalidText);
    }
    Ok(())
}

pub fn username(name: &str) -> Result<(), ResultCode> {
    let valid = (USERNAME_MIN..=USERNAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(ResultCode::InvalidUsername)
    }
}

/// A pragmatic address check: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Whether the mailbox exists is for a confirmation mail, not for the core.
pub fn email(address: &str) -> Result<(), ResultCode> {
    let valid = address.len() <= EMAIL_MAX
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        && match address.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(())
    } else {
        Err(ResultCode::InvalidEmail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert!(username("alice_01").is_ok());
        assert!(username("al").is_err());
        assert!(username("bad name").is_err());
        assert!(email("a@b.co").is_ok());
        for bad in ["ab.co", "a@b", "a@@b.co", "@b.co", "a b@c.d", "a@.b"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert_eq!(line("", 5), Err(ResultCode::InvalidText));
        assert_eq!(line("abcdef", 5), Err(ResultCode::TextTooLong));
        assert_eq!(line("a\u{7}b", 5), Err(ResultCode::InvalidText));
        assert!(body("two\nlines", 20).is_ok());
        assert!(optional_line("", 5).is_ok());
    }
}
