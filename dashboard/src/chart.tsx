import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const palette = ["#4f46e5", "#0f9d58", "#d93025", "#f29900", "#12b5cb", "#a142f4", "#e52592", "#5f6368"];

/** A uPlot line/bar chart sized to its container; `x` are unix seconds. */
export function Chart(props: { title: string; x: number[]; series: { label: string; values: (number | null)[] }[]; bars?: boolean; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(280, el.current.clientWidth || 600);
    const opts: uPlot.Options = {
      title: props.title,
      width,
      height: props.height ?? 240,
      series: [
        {},
        ...props.series.map((s, i) => ({
          label: s.label,
          stroke: palette[i % palette.length],
          fill: props.bars ? `${palette[i % palette.length]}55` : undefined,
          width: 2,
          paths: props.bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
        })),
      ],
      axes: [{}, {}],
    };
    const plot = new uPlot(opts, [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el.current);
    const resize = () => el.current && plot.setSize({ width: Math.max(280, el.current.clientWidth), height: props.height ?? 240 });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [props.x, props.series, props.title]);
  return <div class="chart" ref={el} role="img" aria-label={props.title} />;
}
