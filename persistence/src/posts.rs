//! What the history store derives from a post: its sanitised HTML, its public preview,
//! what search indexes, and the ranks the lists order by (Reddit's "hot" for threads, the
//! Wilson score's lower bound — "best" — for replies), in fixed point.
//!
//! None of it is state the core decides with, so it is computed here, off the core's
//! thread; floats are fine for an ordering (never for money).

use betbet_protocol::social::{ContentFormat, PostText};
use betbet_protocol::types::Timestamp;
use pulldown_cmark::{Event, Options, Parser, Tag};

/// The longest preview, in characters.
pub const PREVIEW_MAX: usize = 280;

/// Reddit's epoch for "hot" (2005-12-08 07:46:43 UTC) and its 12.5-hour half-life step.
const HOT_EPOCH_SECS: i64 = 1_134_028_003;
const HOT_STEP_SECS: f64 = 45_000.0;
/// Ranks are stored as integers: hot in 10^-7, best in 10^-9.
const HOT_SCALE: f64 = 1e7;
const BEST_SCALE: f64 = 1e9;
/// The Wilson interval's z for 95 % confidence.
const Z: f64 = 1.959_963_984_540_054;

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// A link or image target a reader's browser may follow: http(s), mailto (links only),
/// or one within the site. Anything else (`javascript:`, `data:`, `vbscript:` …) is
/// dropped.
fn safe_url(url: &str, image: bool) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    let scheme = lower.split_once(':').map(|(s, _)| s);
    match scheme {
        // No scheme, or a colon after a path or query character: relative.
        None => true,
        Some(s) if s.contains(['/', '?', '#']) => true,
        Some("http" | "https") => true,
        Some("mailto") => !image,
        Some(_) => false,
    }
}

/// The post's HTML: Markdown rendered with raw HTML shown as text and unsafe link targets
/// removed; plain text escaped into paragraphs.
pub fn render(text: &PostText) -> String {
    match text.format {
        ContentFormat::Text => {
            let mut out = String::with_capacity(text.content.len() + 16);
            for paragraph in text.content.split("\n\n").filter(|p| !p.trim().is_empty()) {
                out.push_str("<p>");
                let mut lines = paragraph.trim_matches('\n').lines();
                if let Some(first) = lines.next() {
                    escape(first, &mut out);
                }
                for line in lines {
                    out.push_str("<br>");
                    escape(line, &mut out);
                }
                out.push_str("</p>\n");
            }
            out
        }
        ContentFormat::Markdown => {
            let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
            let events = Parser::new_ext(&text.content, options).map(|event| match event {
                // Raw HTML is shown, never interpreted.
                Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) if !safe_url(&dest_url, false) => Event::Start(Tag::Link {
                    link_type,
                    dest_url: "#".into(),
                    title,
                    id,
                }),
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) if !safe_url(&dest_url, true) => Event::Start(Tag::Image {
                    link_type,
                    dest_url: "".into(),
                    title,
                    id,
                }),
                other => other,
            });
            let mut out = String::with_capacity(text.content.len() * 3 / 2);
            pulldown_cmark::html::push_html(&mut out, events);
            out
        }
    }
}

/// The first characters of the content, on one line: at most [`PREVIEW_MAX`], and for a
/// paywalled post at most a quarter of it (so a short one is not given away whole).
pub fn preview(content: &str, paywalled: bool) -> String {
    let flat: String = content.split_whitespace().collect::<Vec<_>>().join(" ");
    let length = flat.chars().count();
    let max = if paywalled {
        (length / 4).min(PREVIEW_MAX)
    } else {
        PREVIEW_MAX
    };
    if length <= max {
        return flat;
    }
    if max == 0 {
        return String::new();
    }
    let mut cut: String = flat.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Reddit's hot rank: `sign(s) · log10(max(|s|, 1)) + (created − epoch) / 45 000`, so ten
/// times the votes count as much as 12.5 hours of age.
pub fn hot_rank(upvotes: u32, downvotes: u32, created_at: Timestamp) -> i64 {
    let score = i64::from(upvotes) - i64::from(downvotes);
    let order = (score.unsigned_abs().max(1) as f64).log10();
    let sign = score.signum() as f64;
    let seconds = (created_at.0.div_euclid(1_000_000) - HOT_EPOCH_SECS) as f64;
    ((sign * order + seconds / HOT_STEP_SECS) * HOT_SCALE).round() as i64
}

/// The lower bound of the Wilson score interval of the share of up votes (95 %): a reply
/// with 1 up of 1 ranks below one with 90 up of 100. 0 without votes.
pub fn best_rank(upvotes: u32, downvotes: u32) -> i64 {
    let n = f64::from(upvotes) + f64::from(downvotes);
    if n == 0.0 {
        return 0;
    }
    let p = f64::from(upvotes) / n;
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let spread = Z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt();
    ((centre - spread) / (1.0 + z2 / n) * BEST_SCALE).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(content: &str) -> String {
        render(&PostText {
            title: String::new(),
            content: content.to_owned(),
            format: ContentFormat::Markdown,
        })
    }

    #[test]
    fn markdown_renders_without_any_way_to_inject_script() {
        assert_eq!(
            md("**bold** _it_"),
            "<p><strong>bold</strong> <em>it</em></p>\n"
        );
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "[x](vbscript:msgbox)",
        ];
        for attack in attacks {
            let html = md(attack).to_ascii_lowercase();
            assert!(!html.contains("<script"), "{attack} → {html}");
            assert!(!html.contains("<img src=\"x\""), "{attack} → {html}");
            assert!(!html.contains("<a href=\"javascript"), "{attack} → {html}");
            assert!(!html.contains("href=\"data:"), "{attack} → {html}");
            assert!(!html.contains("src=\"javascript"), "{attack} → {html}");
            assert!(!html.contains("href=\"vbscript"), "{attack} → {html}");
        }
        assert!(
            md("[ok](https://example.com/a?b=1)").contains("href=\"https://example.com/a?b=1\"")
        );
        assert!(md("[rel](/threads/thr_1)").contains("href=\"/threads/thr_1\""));
        let text = render(&PostText {
            title: String::new(),
            content: "a < b & \"c\"\nnext\n\n<b>para</b>".to_owned(),
            format: ContentFormat::Text,
        });
        assert_eq!(
            text,
            "<p>a &lt; b &amp; &quot;c&quot;<br>next</p>\n<p>&lt;b&gt;para&lt;/b&gt;</p>\n"
        );
    }

    #[test]
    fn hot_and_best_rank_as_their_formulas_say() {
        let t = Timestamp::from_secs(HOT_EPOCH_SECS + 45_000);
        // log10(10) + 1 = 2; log10(1) + 1 = 1; −log10(100) + 1 = −1.
        assert_eq!(hot_rank(10, 0, t), 20_000_000);
        assert_eq!(hot_rank(0, 0, t), 10_000_000);
        assert_eq!(hot_rank(0, 100, t), -10_000_000);
        // Ten times the votes equal 12.5 hours.
        let later = Timestamp::from_secs(HOT_EPOCH_SECS + 90_000);
        assert_eq!(hot_rank(1, 0, later), hot_rank(10, 0, t));
        // Wilson: 1/1 below 90/100; 0 without votes; worked value for 9 up of 10.
        assert!(best_rank(1, 0) < best_rank(90, 10));
        assert_eq!(best_rank(0, 0), 0);
        assert!(best_rank(0, 5) < best_rank(1, 5));
        assert_eq!(best_rank(9, 1), 595849973);
    }

    #[test]
    fn previews_are_one_bounded_line() {
        assert_eq!(preview("a\n\n  b\tc", false), "a b c");
        let long = "x".repeat(1_000);
        let cut = preview(&long, false);
        assert_eq!(cut.chars().count(), PREVIEW_MAX);
        assert!(cut.ends_with('…'));
        // Paywalled: a quarter at most, so a short post is not given away.
        assert_eq!(preview("12345678", true), "1…");
        assert_eq!(preview("abc", true), "");
        assert_eq!(preview(&long, true).chars().count(), 250);
        assert_eq!(
            preview(&"x".repeat(2_000), true).chars().count(),
            PREVIEW_MAX
        );
    }
}
