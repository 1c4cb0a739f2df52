//! The benchmark plots: grouped bar charts in SVG, one group per measurement and one bar per
//! kernel configuration, on a logarithmic axis (the values span several orders of magnitude:
//! the point of comparing preemption is that gap).

use crate::Result;
use plotters::prelude::*;
use std::path::Path;

/// One chart: a title, the axis label, and the groups of bars.
pub struct BarChart<'a> {
    /// Above the chart.
    pub title: &'a str,
    /// Along the value axis.
    pub unit: &'a str,
    /// The name of each bar in a group (the configurations), in the order of the values.
    pub series: &'a [&'a str],
    /// Each group: its name and one value per series (`None` where there is none).
    pub groups: Vec<(String, Vec<Option<u64>>)>,
}

/// The colour of a series: for a kernel configuration, blues for the process model and reds
/// for the interrupt model, darker the more preemptible; otherwise the next of `COLOURS`.
fn colour_of(name: &str, index: usize) -> RGBColor {
    let shade = if name.ends_with("partial") {
        Some(1)
    } else if name.ends_with("none") {
        Some(2)
    } else if name.ends_with("full") {
        Some(0)
    } else {
        None
    };
    let family = if name.starts_with("process") {
        Some([
            RGBColor(8, 48, 107),
            RGBColor(33, 113, 181),
            RGBColor(158, 202, 225),
        ])
    } else if name.starts_with("interrupt") {
        Some([
            RGBColor(103, 0, 13),
            RGBColor(203, 24, 29),
            RGBColor(252, 146, 114),
        ])
    } else {
        None
    };
    match (family, shade) {
        (Some(family), Some(shade)) => family[shade],
        _ => COLOURS[index % COLOURS.len()],
    }
}

/// Colours for other series, told apart in print too (light and dark alternate).
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(174, 199, 232),
    RGBColor(214, 39, 40),
    RGBColor(255, 152, 150),
    RGBColor(44, 160, 44),
    RGBColor(152, 223, 138),
];

/// Draws `chart` into an SVG file at `path`.
pub fn write_bar_chart(chart: &BarChart<'_>, path: &Path) -> Result<()> {
    draw(chart, path).map_err(|error| {
        ::tests::Error::new(format!(
            "could not draw {} ({error}): check that the directory is writable",
            path.display()
        ))
    })
}

fn draw(chart: &BarChart<'_>, path: &Path) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let groups = chart.groups.len().max(1);
    let width = 200 + 150 * groups as u32;
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let largest = chart
        .groups
        .iter()
        .flat_map(|(_, values)| values.iter().flatten())
        .copied()
        .max()
        .unwrap_or(1);
    // A decade of room above the tallest bar for the legend.
    let top = 10u64.pow(largest.max(1).ilog10() + 2);
    let mut plot = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..groups as f64, (1f64..top as f64).log_scale())?;
    let names: Vec<String> = chart.groups.iter().map(|(name, _)| name.clone()).collect();
    plot.configure_mesh()
        .disable_x_mesh()
        .x_labels(groups * 2 + 1)
        .x_label_formatter(&|x| {
            let index = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 {
                names.get(index).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(chart.unit)
        .y_label_formatter(&|y| thousands(*y as u64))
        .draw()?;
    let series = chart.series.len().max(1) as f64;
    let bar = 0.8 / series;
    for (index, name) in chart.series.iter().enumerate() {
        let colour = colour_of(name, index);
        let bars = chart
            .groups
            .iter()
            .enumerate()
            .filter_map(move |(group, (_, values))| {
                let value = (*values.get(index)?)?;
                let left = group as f64 + 0.1 + bar * index as f64;
                Some(Rectangle::new(
                    [(left, 1.0), (left + bar, value.max(1) as f64)],
                    colour.filled(),
                ))
            });
        plot.draw_series(bars)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// A whole number with commas between groups of three digits.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut text = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            text.push(',');
        }
        text.push(digit);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }

    #[test]
    fn a_chart_is_an_svg_with_its_labels() {
        let path = std::env::temp_dir().join(format!("xtask-plot-{}.svg", std::process::id()));
        let chart = BarChart {
            title: "latency",
            unit: "instructions",
            series: &["process-partial", "process-none"],
            groups: vec![
                ("idle".to_string(), vec![Some(800), Some(900)]),
                ("ipc".to_string(), vec![Some(2_000), None]),
            ],
        };
        write_bar_chart(&chart, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        for text in ["latency", "idle", "ipc", "process-partial", "instructions"] {
            assert!(svg.contains(text), "the chart lacks {text:?}");
        }
        // Three bars, and the two legend marks.
        assert!(svg.matches("<rect").count() >= 5);
    }
}
