// The slice of autocannon 9's programmatic API this benchmark uses (the package ships no types, and the bench must
// not add a dependency outside bench/). See node_modules/autocannon/README.md, "API" and "Results".
declare module "autocannon" {
  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Worker threads firing requests; connections are split between them. */
      workers?: number;
      pipelining?: number;
      method?: string;
      headers?: Record<string, string>;
      /** Responses whose body differs are counted in `mismatches`. */
      expectBody?: string;
      /** Seconds before a request counts as a timeout. */
      timeout?: number;
      title?: string;
    }

    /** An hdr-histogram-percentiles-obj summary. */
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p2_5: number;
      p50: number;
      p75: number;
      p90: number;
      p97_5: number;
      p99: number;
      p99_9: number;
      p99_99: number;
      p99_999: number;
    }

    interface Result {
      title?: string;
      url: string;
      connections: number;
      duration: number;
      /** Requests completed per second, sampled once a second. */
      requests: Histogram & { sent: number };
      /** Milliseconds. */
      latency: Histogram & { totalCount: number };
      throughput: Histogram;
      errors: number;
      timeouts: number;
      mismatches: number;
      non2xx: number;
      resets: number;
      "2xx": number;
      statusCodeStats: Record<string, { count: number }>;
    }

    /** An EventEmitter that is also a thenable (no `finally`). */
    interface Instance extends PromiseLike<Result> {
      stop(): void;
      catch(onrejected: (reason: unknown) => unknown): Promise<unknown>;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;

  export = autocannon;
}
