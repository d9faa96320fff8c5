//! Charts drawn on the server as inline SVG, for the report pages. No JavaScript.
//!
//! Each chart is a `<figure class="chart">` whose `<figcaption>` labels the SVG (`role="img"`),
//! followed by the same data as a table folded under a "Show the figures" disclosure
//! ([`figures`]), in a box that scrolls on its own on a narrow screen. Bars are horizontal,
//! with their label above them, so long labels fit on a phone; labels too long for the drawing
//! end in an ellipsis there but are given in full in the bar's `<title>` and in the table. The
//! drawing is one image to assistive technology, so it holds no links: a bar with an `href`
//! links from its row of the table. A page whose own table gives the figures (with more
//! columns) draws the chart alone (`*_drawing`) and folds its table with [`figures`], so that
//! each figure is shown once.
//!
//! Values are drawn from an `f64` and shown with a display string chosen by the caller. A value
//! that is not a finite, non-negative number is drawn as 0 and its display string kept.

use maud::{html, Markup};

/// Width of every chart in SVG user units; the SVG scales to its container.
const WIDTH: f64 = 360.0;
/// Rough width of one character at the chart's font size, for fitting text.
const CHAR_WIDTH: f64 = 7.0;
/// Font size in SVG user units.
const FONT_SIZE: f64 = 13.0;
/// Shown instead of a chart when there is nothing to draw.
const NOTHING: &str = "Nothing to show for this choice.";

/// One bar of a [`bar_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What the bar counts, e.g. a behaviour or a pupil's name (user data, escaped).
    pub label: String,
    /// Value to draw.
    pub value: f64,
    /// Value as shown, e.g. "12" or "3.4 per 100 pupils a day".
    pub display: String,
    /// Where the bar and its label lead, e.g. the incidents behind it.
    pub href: Option<String>,
}

/// One point of a [`line_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Where the point sits on the horizontal axis, e.g. "w/c 8 Sep".
    pub label: String,
    /// Value to draw.
    pub value: f64,
    /// Value as shown.
    pub display: String,
    /// A point with nothing to count (a week of school holiday): the line breaks there
    /// instead of dropping to zero.
    pub gap: bool,
}

/// A dashed vertical line on a [`line_chart`], e.g. "Level 3" where a pupil entered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Index of the point the line passes through; markers past the last point are left out.
    pub at_index: usize,
    /// Text written beside the line and in the table.
    pub label: String,
}

/// One row of a [`paired_chart`]: a value before and after, e.g. an incident rate before and
/// after pupils entered a level.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// What the row is about.
    pub label: String,
    /// Value before, to draw.
    pub before: f64,
    /// Value after, to draw.
    pub after: f64,
    /// Value before, as shown.
    pub before_display: String,
    /// Value after, as shown.
    pub after_display: String,
    /// A short note shown with the label, e.g. "12 pupils"; may be empty.
    pub note: String,
    /// Where the row's bars and label lead.
    pub href: Option<String>,
}

/// Shared geometry: the scale from values to lengths, and fitting text into a width.
struct Scale {
    max: f64,
}

impl Scale {
    /// A scale from 0 to the largest of `values` (to 1 when none is above 0).
    fn new(values: impl IntoIterator<Item = f64>) -> Scale {
        let max = values.into_iter().map(clean).fold(0.0, f64::max);
        Scale {
            max: if max > 0.0 { max } else { 1.0 },
        }
    }

    /// Length of `value` when the largest value spans `span`.
    fn len(&self, value: f64, span: f64) -> f64 {
        clean(value) / self.max * span
    }
}

/// The value to draw: non-finite and negative values become 0.
fn clean(value: f64) -> f64 {
    if value.is_finite() && value > 0.0 {
        value
    } else {
        0.0
    }
}

/// Estimated drawn width of `text`.
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// `text` cut with an ellipsis to fit in `room`.
fn fit(text: &str, room: f64) -> String {
    let max = (room / CHAR_WIDTH).floor().max(1.0) as usize;
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// A number for an SVG attribute.
fn num(value: f64) -> String {
    format!("{value:.1}")
}

/// The figure around a chart, or the caption and a short message when `empty`.
fn figure(id: &str, caption: &str, empty: bool, chart: Markup) -> Markup {
    html! {
        figure.chart id=(id) {
            figcaption id={ (id) "-caption" } { (caption) }
            @if empty { p.muted { (NOTHING) } } @else { (chart) }
        }
    }
}

/// The SVG element with its common attributes.
fn svg(id: &str, height: f64, body: Markup) -> Markup {
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (num(WIDTH)) " " (num(height)) }
            width="100%" font-size=(num(FONT_SIZE)) role="img" aria-labelledby={ (id) "-caption" } {
            (body)
        }
    }
}

/// A group of the drawing with its full text as a `<title>`.
fn group(title: &str, body: Markup) -> Markup {
    html! { g { title { (title) } (body) } }
}

/// A chart's table folded under "Show the figures", in a box that scrolls sideways on its own
/// (focusable and named, so that it can be scrolled from the keyboard).
pub fn figures(caption: &str, table: Markup) -> Markup {
    html! {
        details.figures {
            summary { "Show the figures" }
            div.scroll tabindex="0" role="region" aria-label={ (caption) ": the figures" } {
                (table)
            }
        }
    }
}

/// A table cell with the label, linked when there is an `href`.
fn label_cell(label: &str, href: Option<&str>, note: &str) -> Markup {
    html! {
        th scope="row" {
            @if let Some(href) = href { a href=(href) { (label) } } @else { (label) }
            @if !note.is_empty() { " " span.muted { "(" (note) ")" } }
        }
    }
}

/// A bar from the left edge at `y`, with its display text after it, or inside its end when
/// there is no room after it.
fn bar_rect(class: &str, y: f64, height: f64, length: f64, display: &str) -> Markup {
    let after = WIDTH - length - 8.0;
    let inside = text_width(display) > after && length - 8.0 > after;
    let (x, anchor, text_class, room) = if inside {
        (length - 4.0, "end", "value inside", length - 8.0)
    } else {
        (length + 4.0, "start", "value", after)
    };
    html! {
        rect class=(class) x="0" y=(num(y)) width=(num(length)) height=(num(height)) {}
        text class=(text_class) x=(num(x)) y=(num(y + height - 3.0)) text-anchor=(anchor) {
            (fit(display, room))
        }
    }
}

/// Horizontal bar chart, bars in the order given; the scale starts at 0 and fits the largest
/// value. Followed by its figures, folded.
pub fn bar_chart(id: &str, caption: &str, value_heading: &str, bars: &[Bar]) -> Markup {
    let table = html! {
        table.chart-data {
            thead { tr { td {} th.num scope="col" { (value_heading) } } }
            tbody {
                @for bar in bars {
                    tr { (label_cell(&bar.label, bar.href.as_deref(), "")) td.num { (bar.display) } }
                }
            }
        }
    };
    html! {
        (bar_drawing(id, caption, bars))
        @if !bars.is_empty() { (figures(caption, table)) }
    }
}

/// The drawing of a [`bar_chart`] alone, for a page that gives the figures in its own table.
pub fn bar_drawing(id: &str, caption: &str, bars: &[Bar]) -> Markup {
    const ROW: f64 = 44.0;
    let scale = Scale::new(bars.iter().map(|b| b.value));
    let height = ROW * bars.len() as f64;
    let chart = svg(
        id,
        height,
        html! {
            @for (i, bar) in bars.iter().enumerate() {
                @let y = ROW * i as f64;
                (group(&format!("{}: {}", bar.label, bar.display), html! {
                    text.label x="0" y=(num(y + 14.0)) { (fit(&bar.label, WIDTH)) }
                    (bar_rect("bar", y + 19.0, 18.0, scale.len(bar.value, WIDTH), &bar.display))
                }))
            }
        },
    );
    figure(id, caption, bars.is_empty(), chart)
}

/// Line (trend) chart over ordered points, e.g. weeks; axis starts at 0; marks each point;
/// optional vertical markers. Followed by its figures, folded.
pub fn line_chart(
    id: &str,
    caption: &str,
    value_heading: &str,
    points: &[Point],
    markers: &[Marker],
) -> Markup {
    let markers: Vec<&Marker> = markers
        .iter()
        .filter(|m| m.at_index < points.len())
        .collect();
    let table = html! {
        table.chart-data {
            thead {
                tr {
                    td {}
                    th.num scope="col" { (value_heading) }
                    @if !markers.is_empty() { th scope="col" { "Marked" } }
                }
            }
            tbody {
                @for (i, point) in points.iter().enumerate() {
                    tr {
                        th scope="row" { (point.label) }
                        td.num { (point.display) }
                        @if !markers.is_empty() {
                            td {
                                @for (n, marker) in markers.iter().filter(|m| m.at_index == i).enumerate() {
                                    @if n > 0 { "; " }
                                    (marker.label)
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html! {
        (line_drawing(id, caption, points, &markers))
        @if !points.is_empty() { (figures(caption, table)) }
    }
}

/// The drawing of a [`line_chart`] alone, for a page that gives the figures in its own table.
/// A point marked as a gap is drawn as a shaded column with the line broken across it.
pub fn line_drawing(id: &str, caption: &str, points: &[Point], markers: &[&Marker]) -> Markup {
    const TOP: f64 = 34.0;
    const PLOT: f64 = 180.0;
    const SIDE: f64 = 12.0;
    let scale = Scale::new(points.iter().filter(|p| !p.gap).map(|p| p.value));
    let step = if points.len() > 1 {
        (WIDTH - 2.0 * SIDE) / (points.len() - 1) as f64
    } else {
        0.0
    };
    let x = |i: usize| {
        if points.len() > 1 {
            SIDE + step * i as f64
        } else {
            WIDTH / 2.0
        }
    };
    let y = |v: f64| TOP + PLOT - scale.len(v, PLOT);
    let base = TOP + PLOT;
    // Label every `every`th point so that the labels do not run into each other.
    let widest = points
        .iter()
        .map(|p| text_width(&p.label))
        .fold(0.0, f64::max)
        + 8.0;
    let every = if step > 0.0 {
        ((widest.min(WIDTH / 3.0) / step).ceil() as usize).max(1)
    } else {
        1
    };
    let room = if step > 0.0 {
        (step * every as f64 - 8.0).min(WIDTH)
    } else {
        WIDTH
    };
    // Centred under their points but kept inside the chart; any that would then overlap the
    // label before them are left out.
    let mut axis_labels: Vec<(f64, String)> = Vec::new();
    let mut end = f64::NEG_INFINITY;
    for (i, point) in points.iter().enumerate().step_by(every) {
        let label = fit(&point.label, room);
        let half = text_width(&label) / 2.0;
        let at = x(i).clamp(half, (WIDTH - half).max(half));
        if at - half >= end {
            end = at + half + 8.0;
            axis_labels.push((at, label));
        }
    }
    let top = points
        .iter()
        .filter(|p| !p.gap)
        .max_by(|a, b| clean(a.value).total_cmp(&clean(b.value)));
    // The line in runs of points, broken at each gap.
    let mut runs: Vec<Vec<String>> = vec![Vec::new()];
    for (i, point) in points.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if !point.gap => run.push(format!("{},{}", num(x(i)), num(y(point.value)))),
            Some(run) if !run.is_empty() => runs.push(Vec::new()),
            _ => {}
        }
    }
    runs.retain(|run| !run.is_empty());
    let gap_width = if step > 0.0 { step } else { 2.0 * SIDE };
    let chart = svg(
        id,
        base + 20.0,
        html! {
            @for (i, point) in points.iter().enumerate().filter(|(_, p)| p.gap) {
                rect.gap x=(num((x(i) - gap_width / 2.0).max(0.0))) y=(num(TOP)) width=(num(gap_width)) height=(num(PLOT)) {
                    title { (point.label) ": " (point.display) }
                }
            }
            line.axis x1="0" x2=(num(WIDTH)) y1=(num(base)) y2=(num(base)) stroke="currentColor" {}
            text.axis x="0" y=(num(base - 4.0)) { "0" }
            @if let Some(top) = top.filter(|p| clean(p.value) > 0.0) {
                line.grid x1="0" x2=(num(WIDTH)) y1=(num(TOP)) y2=(num(TOP)) stroke="currentColor" stroke-opacity=".2" {}
                text.axis x="0" y=(num(TOP - 4.0)) { (fit(&top.display, WIDTH / 2.0)) }
            }
            @for marker in markers {
                @let mx = x(marker.at_index);
                @let right = mx > WIDTH * 0.6;
                line.marker x1=(num(mx)) x2=(num(mx)) y1="2" y2=(num(base)) stroke="currentColor" stroke-dasharray="4 3" {}
                text.marker x=(num(if right { mx - 4.0 } else { mx + 4.0 })) y="12"
                    text-anchor=(if right { "end" } else { "start" }) {
                    (fit(&marker.label, if right { mx } else { WIDTH - mx }))
                }
            }
            @for run in &runs {
                polyline.line points=(run.join(" ")) fill="none" stroke="currentColor" stroke-width="2" {}
            }
            @for (i, point) in points.iter().enumerate().filter(|(_, p)| !p.gap) {
                circle.point cx=(num(x(i))) cy=(num(y(point.value))) r="3.5" {
                    title { (point.label) ": " (point.display) }
                }
            }
            @for (at, label) in &axis_labels {
                text.axis x=(num(*at)) y=(num(base + 16.0)) text-anchor="middle" { (label) }
            }
        },
    );
    figure(id, caption, points.is_empty(), chart)
}

/// Paired bars (before and after) for each row, e.g. incident rate before and after entering
/// each level; with a legend. Followed by its figures, folded.
pub fn paired_chart(
    id: &str,
    caption: &str,
    before_heading: &str,
    after_heading: &str,
    pairs: &[Pair],
) -> Markup {
    let table = html! {
        table.chart-data {
            thead {
                tr { td {} th.num scope="col" { (before_heading) } th.num scope="col" { (after_heading) } }
            }
            tbody {
                @for pair in pairs {
                    tr {
                        (label_cell(&pair.label, pair.href.as_deref(), &pair.note))
                        td.num { (pair.before_display) }
                        td.num { (pair.after_display) }
                    }
                }
            }
        }
    };
    html! {
        (paired_drawing(id, caption, (before_heading, after_heading), pairs))
        @if !pairs.is_empty() { (figures(caption, table)) }
    }
}

/// The drawing of a [`paired_chart`] alone, for a page that gives the figures in its own
/// table; `headings` name the before and after bars in the legend.
pub fn paired_drawing(id: &str, caption: &str, headings: (&str, &str), pairs: &[Pair]) -> Markup {
    const LEGEND: f64 = 26.0;
    const ROW: f64 = 58.0;
    let (before_heading, after_heading) = headings;
    let scale = Scale::new(pairs.iter().flat_map(|p| [p.before, p.after]));
    let height = LEGEND + ROW * pairs.len() as f64;
    let half = WIDTH / 2.0;
    let chart = svg(
        id,
        height,
        html! {
            rect.before.swatch x="0" y="4" width="12" height="12" {}
            text x="18" y="14" { (fit(before_heading, half - 24.0)) }
            rect.after.swatch x=(num(half)) y="4" width="12" height="12" {}
            text x=(num(half + 18.0)) y="14" { (fit(after_heading, half - 24.0)) }
            @for (i, pair) in pairs.iter().enumerate() {
                @let y = LEGEND + ROW * i as f64;
                @let note_room = if pair.note.is_empty() { 0.0 } else { text_width(&pair.note) + 12.0 };
                @let title = format!(
                    "{}: {} {}, {} {}", pair.label, before_heading, pair.before_display,
                    after_heading, pair.after_display,
                );
                (group(&title, html! {
                    text.label x="0" y=(num(y + 14.0)) { (fit(&pair.label, WIDTH - note_room)) }
                    @if !pair.note.is_empty() {
                        text.note x=(num(WIDTH)) y=(num(y + 14.0)) text-anchor="end" {
                            (fit(&pair.note, WIDTH / 2.0))
                        }
                    }
                    (bar_rect("bar before", y + 19.0, 15.0, scale.len(pair.before, WIDTH), &pair.before_display))
                    (bar_rect("bar after", y + 36.0, 15.0, scale.len(pair.after, WIDTH), &pair.after_display))
                }))
            }
        },
    );
    figure(id, caption, pairs.is_empty(), chart)
}

#[cfg(test)]
mod tests;
