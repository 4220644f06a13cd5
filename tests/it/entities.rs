//! Every WHATWG named character reference decodes to its listed characters
//! (issue 18: quick-xml 0.41's table had 444 of them wrong). The list is
//! `tests/fixtures/entities/entities.json` (see the README beside it).

use std::collections::BTreeMap;

use feedwatch::parse::html;

#[test]
fn every_whatwg_name_decodes_to_its_characters() {
    let json = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/entities/entities.json"
    ))
    .unwrap();
    let list: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
    assert_eq!(
        list.len(),
        2125,
        "the WHATWG list has 2,125 names with a semicolon"
    );
    let wrong: Vec<String> = list
        .iter()
        .filter(|(name, chars)| html::entity(name) != Some(chars.as_str()))
        .map(|(name, chars)| format!("&{name}; → {:?}, want {chars:?}", html::entity(name)))
        .collect();
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
    // And through the text extraction a title goes through.
    for (name, chars) in &list {
        let expected = html::plain_text(chars);
        assert_eq!(html::to_text(&format!("&{name};")), expected, "&{name};");
    }
    assert_eq!(html::entity("bogus"), None);
    assert_eq!(html::entity(&"a".repeat(100)), None);
}
