//! Kubernetes name and label syntax. Names become file paths, so they are checked before use.

/// Checks a DNS-1123 label: at most 63 characters of `a-z`, `0-9` and `-`, starting and ending
/// with a letter or digit. Returns what is wrong otherwise.
pub fn check_dns1123_label(name: &str) -> Result<(), String> {
    if name.len() > 63 {
        return Err(format!(
            "is {} characters long; at most 63 are allowed",
            name.len()
        ));
    }
    check_dns1123_part(name)
}

/// Checks a DNS-1123 subdomain as Kubernetes does: at most 253 characters, dot-separated
/// parts of `a-z`, `0-9` and `-` starting and ending with a letter or digit. A part may be
/// longer than a label: `<63 characters>-kubeconfig` is a valid Secret name.
pub fn check_dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!(
            "is {} characters long; at most 253 are allowed",
            name.len()
        ));
    }
    name.split('.').try_for_each(check_dns1123_part)
}

/// The characters of a DNS-1123 label, whatever its length.
fn check_dns1123_part(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "contains {c:?}; only lowercase letters, digits and '-' are allowed"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Checks a label key: an optional DNS-1123 subdomain prefix and `/`, then a name of at most 63
/// characters of alphanumerics, `-`, `_` and `.`, starting and ending with an alphanumeric.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        check_dns1123_subdomain(prefix).map_err(|e| format!("prefix {prefix:?} {e}"))?;
    }
    if name.is_empty() {
        return Err("name part must not be empty".into());
    }
    check_label_value(name).map_err(|e| format!("name part {e}"))
}

/// Checks a label value: empty, or at most 63 characters of alphanumerics, `-`, `_` and `.`,
/// starting and ending with an alphanumeric.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 63 {
        return Err(format!(
            "is {} characters long; at most 63 are allowed",
            value.len()
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "contains {c:?}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(value.chars().next()) || !alnum(value.chars().last()) {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Checks a variable name usable in Flux `postBuild.substitute` (`${name}` in manifests).
pub fn check_substitute_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err("is not a substitution variable name: use letters, digits and '_', not starting with a digit".into())
    }
}

/// Checks a git branch name the way `git check-ref-format --branch` does, for the common cases.
pub fn check_branch(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.ends_with('/')
        || name.starts_with('-')
        || name.ends_with('.')
        || name.ends_with(".lock")
        || name.contains("..")
        || name.contains("//")
        || name.contains("@{")
        || name == "@"
        || name.split('/').any(|part| part.starts_with('.'))
        || name
            .chars()
            .any(|c| c.is_ascii_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if bad {
        Err("is not a valid git branch name".into())
    } else {
        Ok(())
    }
}

/// Checks a relative path inside a repository: `/`-separated parts of letters, digits, `.`, `_`
/// and `-`, none of them `.` or `..`.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!(
                "must be a plain relative path (no leading or trailing '/', no '.' or '..' parts): {path:?}"
            ));
        }
        if let Some(c) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(format!(
                "contains {c:?}; use letters, digits, '.', '_', '-' and '/'"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_labels() {
        for ok in ["a", "prod-eu-1", "0abc", &"a".repeat(63)] {
            assert_eq!(check_dns1123_label(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a.b",
            "../x",
            "a/b",
            &"a".repeat(64),
        ] {
            assert!(check_dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns1123_subdomains_as_kubernetes_checks_them() {
        let long_secret = format!("{}-kubeconfig", "a".repeat(63));
        for ok in ["a", "a.b-c", long_secret.as_str()] {
            assert_eq!(check_dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        let too_long = "a".repeat(254);
        let dash_end = format!("{}-", "a".repeat(70));
        let late_underscore = format!("{}_a", "a".repeat(70));
        for bad in [
            "",
            "a..b",
            "A",
            "-a",
            "a.-b",
            &dash_end,
            &late_underscore,
            &too_long,
        ] {
            assert!(check_dns1123_subdomain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_keys_and_values() {
        for ok in ["env", "topology.kubernetes.io/region", "a.b-c_d", "x/Y"] {
            assert_eq!(check_label_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", "/x", "x/", "-x", "Bad_Prefix/x", "a b", &"k".repeat(64)] {
            assert!(check_label_key(bad).is_err(), "{bad}");
        }
        for ok in ["", "prod", "v1.2_3-x"] {
            assert_eq!(check_label_value(ok), Ok(()), "{ok}");
        }
        for bad in ["-x", "x-", "a b", "a/b", &"v".repeat(64)] {
            assert!(check_label_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branches_and_paths() {
        for ok in ["main", "fleeet/rendered", "release-1.2"] {
            assert_eq!(check_branch(ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "a b", "a..b", "/a", "a/", "a.lock", "a:b", ".hidden", "x/.y", "-x",
        ] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
        for ok in ["clusters", "fleet/clusters", "a.b_c-d"] {
            assert_eq!(check_relative_path(ok), Ok(()), "{ok}");
        }
        for bad in ["", "/abs", "a/", "a//b", "..", "a/../b", "./a", "a b"] {
            assert!(check_relative_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn substitute_names() {
        assert!(check_substitute_name("cluster_name").is_ok());
        assert!(check_substitute_name("_X1").is_ok());
        for bad in ["", "1x", "a-b", "a.b"] {
            assert!(check_substitute_name(bad).is_err(), "{bad}");
        }
    }
}
