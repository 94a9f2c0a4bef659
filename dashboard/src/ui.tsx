import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (value: T) => void;
}

/** Loads data for a page; `deps` reload it. The error is the API's message. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    setError(undefined);
    try {
      const value = await load();
      if (mine === generation.current) setData(value);
    } catch (e) {
      if (mine === generation.current) setError(messageOf(e));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

export function messageOf(e: unknown): string {
  if (e instanceof ApiError || e instanceof Error) return e.message;
  return String(e);
}

/** Runs an action with busy and error state; returns [run, busy, error, clearError]. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const run = async (...args: A) => {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await action(...args);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, setError };
}

export function Page(props: { title: string; intro?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Amplify Scheduler`;
  }, [props.title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <div>
          <h1 id="page-title">{props.title}</h1>
          {props.intro && <p class="muted">{props.intro}</p>}
        </div>
        {props.actions && <div class="page-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {props.label ?? "Loading…"}
    </p>
  );
}

export function ErrorBox(props: { message?: string; retry?: () => void }) {
  if (!props.message) return null;
  return (
    <div class="alert error" role="alert">
      <span>{props.message}</span>
      {props.retry && (
        <button type="button" class="btn small" onClick={props.retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Notice(props: { kind?: "ok" | "info" | "warn"; children: ComponentChildren }) {
  return (
    <div class={`alert ${props.kind ?? "info"}`} role="status">
      {props.children}
    </div>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <div class="empty">{props.children}</div>;
}

/** Loading, then the API's error with a retry, then the content. */
export function Async<T>(props: { state: Loaded<T>; children: (data: T) => ComponentChildren; label?: string }) {
  const { state } = props;
  if (state.error) return <ErrorBox message={state.error} retry={() => void state.reload()} />;
  if (state.data === undefined) return <Loading label={props.label} />;
  return <>{props.children(state.data)}</>;
}

/** A destructive action asks first: the button turns into "Confirm / Cancel" in place. */
export function ConfirmButton(props: {
  label: string;
  confirm: string;
  onConfirm: () => Promise<unknown> | unknown;
  class?: string;
  disabled?: boolean;
  name?: string;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking)
    return (
      <button type="button" class={props.class ?? "btn danger small"} disabled={props.disabled} onClick={() => setAsking(true)} aria-label={props.name}>
        {props.label}
      </button>
    );
  return (
    <span class="confirm" role="group" aria-label="Confirm">
      <span class="confirm-text">{props.confirm}</span>
      <button
        type="button"
        class="btn danger small"
        disabled={busy}
        autoFocus
        onClick={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}
      >
        {busy ? "Working…" : "Confirm"}
      </button>
      <button type="button" class="btn small ghost" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

let fieldIds = 0;
export function Field(props: { label: string; hint?: ComponentChildren; children: (id: string) => JSX.Element }) {
  const id = useRef(`f${++fieldIds}`).current;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children(id)}
      {props.hint && <small class="hint">{props.hint}</small>}
    </div>
  );
}

export function Badge(props: { tone?: string; children: ComponentChildren }) {
  return <span class={`badge ${props.tone ?? ""}`}>{props.children}</span>;
}

export function statusTone(status: string): string {
  if (["published", "ready", "connected", "delivered", "success", "active", "accepted"].includes(status)) return "ok";
  if (["failed", "needs_reconnect", "not_ready", "canceled", "revoked", "past_due", "unpaid"].includes(status)) return "bad";
  if (["partially_published", "rate_limited", "grace"].includes(status)) return "warn";
  return "info";
}

export function viewerTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** A date-time in a time zone, labelled with it. */
export function formatTime(iso: string | null | undefined, timeZone = viewerTimeZone()): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${d.toLocaleString("en-GB", { timeZone, dateStyle: "medium", timeStyle: "short" })} (${timeZone})`;
}

export function Time(props: { iso: string | null | undefined; timeZone?: string }) {
  if (!props.iso) return <span>—</span>;
  return <time dateTime={props.iso}>{formatTime(props.iso, props.timeZone)}</time>;
}

export function Meter(props: { label: string; used: number; limit: number | null }) {
  const pct = props.limit ? Math.min(100, Math.round((props.used / props.limit) * 100)) : 0;
  return (
    <div class="meter">
      <div class="meter-label">
        <span>{props.label}</span>
        <span>
          {props.used.toLocaleString("en")} / {props.limit === null ? "unlimited" : props.limit.toLocaleString("en")}
        </span>
      </div>
      <div
        class={`meter-bar ${pct >= 90 ? "bad" : pct >= 70 ? "warn" : ""}`}
        role="meter"
        aria-label={props.label}
        aria-valuemin={0}
        aria-valuemax={props.limit ?? props.used}
        aria-valuenow={props.used}
      >
        <span style={{ width: `${props.limit === null ? 0 : pct}%` }} />
      </div>
    </div>
  );
}

export function CopyButton(props: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      class="btn small"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(props.text);
        } catch {
          // Clipboard refused (no permission): select the text for a manual copy instead.
          const el = document.querySelector<HTMLInputElement>("[data-secret]");
          el?.select();
        }
        setCopied(true);
        setTimeout(() => setCopied(false), 2000);
      }}
    >
      {copied ? "Copied" : (props.label ?? "Copy")}
    </button>
  );
}

/** A value shown once (a new API key, a webhook secret), with a copy button and the warning. */
export function SecretOnce(props: { label: string; value: string; warning: string; onDone: () => void }) {
  return (
    <div class="secret-once" role="region" aria-label={props.label}>
      <p>
        <strong>{props.warning}</strong>
      </p>
      <div class="row">
        <input class="mono" readOnly value={props.value} aria-label={props.label} data-secret onFocus={(e) => e.currentTarget.select()} />
        <CopyButton text={props.value} />
      </div>
      <button type="button" class="btn small ghost" onClick={props.onDone}>
        I saved it
      </button>
    </div>
  );
}

export function randomKey(): string {
  return crypto.randomUUID();
}

const supportedZones = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf("timeZone");
  } catch {
    return [] as string[];
  }
})();

/** IANA time zones for a select: UTC first, the current value always present. */
export function zoneOptions(current?: string): string[] {
  const list = ["UTC", ...supportedZones.filter((z) => z !== "UTC")];
  if (current && !list.includes(current)) list.unshift(current);
  return list;
}
