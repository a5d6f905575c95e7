//! GitHub REST answers as octocrab decodes them for fleeet: pull requests (read into fleeet's
//! own type) and comments.

#![no_main]

use libfuzzer_sys::fuzz_target;
use octocrab::models::issues::Comment;
use octocrab::models::pulls::PullRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(pulls) = serde_json::from_slice::<Vec<PullRequest>>(data) {
        for pull in &pulls {
            let _ = fleeet::github::PullRequest::from(pull);
        }
    }
    if let Ok(pull) = serde_json::from_slice::<PullRequest>(data) {
        let _ = fleeet::github::PullRequest::from(&pull);
    }
    let _ = serde_json::from_slice::<Vec<Comment>>(data);
});
