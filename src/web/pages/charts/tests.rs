//! The charts' own checks: geometry, escaping, folded figures, gaps.

use super::*;

fn bar(label: &str, value: f64, href: Option<&str>) -> Bar {
    Bar {
        label: label.to_string(),
        value,
        display: format!("{value}"),
        href: href.map(str::to_string),
    }
}

fn widths(markup: &str) -> Vec<f64> {
    markup
        .split("<rect")
        .skip(1)
        .filter_map(|r| r.split("width=\"").nth(1))
        .filter_map(|w| w.split('"').next())
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn one_rect_per_bar_with_widths_in_proportion() {
    let bars = [bar("Calling out", 10.0, None), bar("Lateness", 5.0, None)];
    let out = bar_chart("by-behaviour", "By behaviour", "Incidents", &bars).into_string();
    assert_eq!(out.matches("<rect").count(), 2);
    assert_eq!(widths(&out), vec![WIDTH, WIDTH / 2.0]);
    assert!(out.contains(r#"<figure class="chart" id="by-behaviour">"#));
    assert!(out.contains(r#"<figcaption id="by-behaviour-caption">By behaviour</figcaption>"#));
    assert!(out.contains(r#"role="img" aria-labelledby="by-behaviour-caption""#));
    assert!(out.contains(r#"<table class="chart-data">"#));
    assert!(out.contains(r#"<th class="num" scope="col">Incidents</th>"#));
}

#[test]
fn labels_are_escaped() {
    let bars = [bar(
        "<script>alert(1)</script>",
        1.0,
        Some("/x?a=1&b=\"2\""),
    )];
    let out = bar_chart("c", "<b>Caption</b>", "N", &bars).into_string();
    assert!(!out.contains("<script>"));
    assert!(!out.contains("<b>"));
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(out.contains("&lt;b&gt;Caption&lt;/b&gt;"));
    assert!(out.contains(r#"href="/x?a=1&amp;b=&quot;2&quot;""#));
}

#[test]
fn links_in_the_table_only_never_around_the_drawing() {
    let bars = [
        bar("Lateness", 3.0, Some("/reports/incidents?behaviour=4")),
        bar("Unlinked", 1.0, None),
    ];
    let out = bar_chart("c", "C", "N", &bars).into_string();
    assert_eq!(
        out.matches(r#"href="/reports/incidents?behaviour=4""#)
            .count(),
        1
    );
    let drawing = out.split("<svg").nth(1).unwrap_or_default();
    let drawing = drawing.split("</svg>").next().unwrap_or_default();
    assert!(!drawing.contains("<a "), "{drawing}");
    assert!(drawing.contains("<g><title>Lateness: 3</title>"));
    assert!(out
        .contains(r#"<th scope="row"><a href="/reports/incidents?behaviour=4">Lateness</a></th>"#));
    assert!(out.contains(r#"<th scope="row">Unlinked</th>"#));
}

#[test]
fn long_labels_are_cut_in_the_drawing_only() {
    let long = "A very long behaviour name that will not fit across a phone screen at all";
    let out = bar_chart("c", "C", "N", &[bar(long, 1.0, None)]).into_string();
    assert!(out.contains('…'));
    assert!(out.contains(&format!("<title>{long}: 1</title>")));
    assert!(out.contains(&format!(r#"<th scope="row">{long}</th>"#)));
}

#[test]
fn empty_input_shows_a_message_and_no_svg() {
    let outs = [
        bar_chart("a", "Nothing here", "N", &[]).into_string(),
        line_chart("b", "Nothing here", "N", &[], &[]).into_string(),
        paired_chart("c", "Nothing here", "Before", "After", &[]).into_string(),
    ];
    for out in outs {
        assert!(out.contains("Nothing here</figcaption>"));
        assert!(out.contains(NOTHING));
        assert!(!out.contains("<svg"));
        assert!(!out.contains("<table"));
    }
}

#[test]
fn bad_values_are_drawn_as_zero_and_keep_their_display() {
    let bars = [
        Bar {
            display: "not known".to_string(),
            ..bar("A", f64::NAN, None)
        },
        Bar {
            display: "too many".to_string(),
            ..bar("B", f64::INFINITY, None)
        },
        bar("C", -3.0, None),
    ];
    let out = bar_chart("c", "C", "N", &bars).into_string();
    assert!(!out.contains("NaN") && !out.contains("inf"));
    assert_eq!(widths(&out), vec![0.0, 0.0, 0.0]);
    assert!(out.contains("not known"));
    assert!(out.contains("-3"));
    let points = [Point {
        label: "w1".into(),
        value: f64::NAN,
        display: "?".into(),
        gap: false,
    }];
    let out = line_chart("l", "L", "N", &points, &[]).into_string();
    assert!(!out.contains("NaN"));
}

#[test]
fn line_chart_has_a_vertex_per_point_and_marker_lines() {
    let points: Vec<Point> = (0..5)
        .map(|i| Point {
            label: format!("Week {}", i + 1),
            value: f64::from(i),
            display: i.to_string(),
            gap: false,
        })
        .collect();
    let markers = [
        Marker {
            at_index: 2,
            label: "Level 3".into(),
        },
        Marker {
            at_index: 9,
            label: "Out of range".into(),
        },
    ];
    let out = line_chart("t", "Trend", "Incidents", &points, &markers).into_string();
    let vertices = out
        .split("points=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default();
    assert_eq!(vertices.split(' ').count(), 5);
    assert_eq!(out.matches("<circle").count(), 5);
    assert_eq!(out.matches(r#"<line class="marker""#).count(), 1);
    assert!(out.contains("Level 3</text>"));
    assert!(!out.contains("Out of range"));
    // The axis starts at 0: the zero point sits on the baseline, the largest at the top.
    assert!(vertices.starts_with("12.0,214.0"));
    assert!(vertices.ends_with("348.0,34.0"));
    assert!(out.contains("<td>Level 3</td>"));
}

#[test]
fn the_figures_are_folded_in_a_named_focusable_box() {
    let out = bar_chart("c", "By place", "N", &[bar("Hall", 2.0, None)]).into_string();
    let details = out.split("<details").nth(1).expect("a disclosure");
    assert!(details.contains("<summary>Show the figures</summary>"));
    assert!(details.contains(
        r#"<div class="scroll" tabindex="0" role="region" aria-label="By place: the figures"><table class="chart-data">"#
    ));
}

#[test]
fn a_gap_breaks_the_line_instead_of_dropping_to_zero() {
    let points: Vec<Point> = [
        (3.0, false),
        (0.0, true),
        (0.0, true),
        (2.0, false),
        (4.0, false),
    ]
    .iter()
    .enumerate()
    .map(|(i, (value, gap))| Point {
        label: format!("Week {i}"),
        value: *value,
        display: if *gap {
            "half term".into()
        } else {
            value.to_string()
        },
        gap: *gap,
    })
    .collect();
    let out = line_chart("t", "Trend", "N", &points, &[]).into_string();
    let runs: Vec<usize> = out
        .split("points=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|run| run.split(' ').count())
        .collect();
    assert_eq!(runs, vec![1, 2], "one run before the gap, one after");
    assert_eq!(out.matches("<circle").count(), 3, "no point in the gap");
    assert_eq!(out.matches(r#"<rect class="gap""#).count(), 2);
    assert!(out.contains("<title>Week 1: half term</title>"));
    let vertices = out
        .split("points=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next());
    assert!(
        vertices
            .flat_map(|run| run.split(' '))
            .all(|v| !v.ends_with(",214.0")),
        "nothing drawn at zero"
    );
}

#[test]
fn paired_chart_draws_two_bars_a_row_and_a_legend() {
    let pairs = [
        Pair {
            label: "Level 3".into(),
            before: 4.0,
            after: 2.0,
            before_display: "4.0".into(),
            after_display: "2.0".into(),
            note: "12 pupils".into(),
            href: Some("/reports/levels/3".into()),
        },
        Pair {
            label: "Level 4".into(),
            before: 1.0,
            after: f64::NAN,
            before_display: "1.0".into(),
            after_display: "n/a".into(),
            note: String::new(),
            href: None,
        },
    ];
    let out = paired_chart("p", "Before and after", "Before", "After", &pairs).into_string();
    assert_eq!(out.matches(r#"<rect class="bar before""#).count(), 2);
    assert_eq!(out.matches(r#"<rect class="bar after""#).count(), 2);
    assert_eq!(out.matches("swatch").count(), 2);
    assert_eq!(widths(&out)[2..], [WIDTH, WIDTH / 2.0, WIDTH / 4.0, 0.0]);
    assert_eq!(out.matches(r#"href="/reports/levels/3""#).count(), 1);
    assert!(out.contains(r#"<span class="muted">(12 pupils)</span>"#));
    assert!(out.contains("<td class=\"num\">n/a</td>"));
}
