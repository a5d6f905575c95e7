//! Text sent to GitHub: bodies cut to the size GitHub accepts.

/// The most characters GitHub accepts in a pull request or comment body.
const MAX_BODY_CHARS: usize = 65_536;

/// `body` as it is sent: whole if GitHub accepts it, else cut at a line end with a note.
/// The same input always gives the same output, so comparing with what is on GitHub works.
pub(super) fn fit_body(body: &str) -> String {
    fit(body, MAX_BODY_CHARS)
}

fn fit(body: &str, max_chars: usize) -> String {
    let total = body.chars().count();
    if total <= max_chars {
        return body.to_owned();
    }
    let note =
        format!("\n\n… cut here: the text has {total} characters, more than GitHub accepts.");
    let keep = max_chars.saturating_sub(note.chars().count());
    let cut = body.char_indices().nth(keep).map_or(body.len(), |(i, _)| i);
    let head = &body[..cut];
    let head = head.rfind('\n').map_or(head, |line_end| &head[..line_end]);
    format!("{head}{note}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_bodies_are_sent_whole() {
        assert_eq!(fit_body("plan\n"), "plan\n");
    }

    #[test]
    fn long_bodies_are_cut_at_a_line_end_within_the_limit() {
        let body = "ä line of the plan\n".repeat(100);
        let fitted = fit(&body, 1000);
        assert!(fitted.chars().count() <= 1000);
        assert!(fitted.starts_with("ä line of the plan\n"));
        assert!(
            fitted.ends_with(
                "\n\n… cut here: the text has 1900 characters, more than GitHub accepts."
            )
        );
        let kept = fitted.split("\n\n…").next().unwrap();
        assert!(kept.ends_with("of the plan"), "{kept:?}");
        assert_eq!(fit(&body, 1000), fitted);
    }
}
