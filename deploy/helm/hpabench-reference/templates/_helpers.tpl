{{/* Every object carries the variant's name, like `hpabench render`. */}}
{{- define "hpabench.variant" -}}
hpabench.io/variant: {{ .Values.name | quote }}
{{- end -}}
{{/* What the chart cannot do is refused, never silently ignored (included by config.yaml). */}}
{{- define "hpabench.refuse-patches" -}}
{{- if .Values.patches -}}
{{- fail "variant patches (RFC 6902) cannot be expressed in the chart: use `hpabench render --variant FILE | kubectl apply -f -`" -}}
{{- end -}}
{{- if .Values.extends -}}
{{- fail (printf "variant %q extends %q, which helm cannot resolve: use `helm template ... -f <(hpabench render --variant FILE --helm-values)`" (toString .Values.name) (toString .Values.extends)) -}}
{{- end -}}
{{- $web := .Values.web | default dict -}}
{{- $hpa := .Values.hpa | default dict -}}
{{- $enabled := hasKey $hpa "enabled" | ternary $hpa.enabled true -}}
{{- if and $enabled (or (hasKey $web "resources") (hasKey $hpa "scale_point")) (not .Values.derived) -}}
{{- fail (printf "variant %q changes the CPU request or the HPA scale point: the scale point (and an iso-rescaled CPU target) is computed by hpabench; use `helm template ... -f <(hpabench render --variant FILE --helm-values)`" (toString .Values.name)) -}}
{{- end -}}
{{- with .Values.derived -}}
{{- $request := (($web.resources | default dict).requests | default dict).cpu | default "200m" -}}
{{- $stale := ne (toString $request) (toString (.for_cpu_request | default "")) -}}
{{- $stale = or $stale (ne (toString ($hpa.target_cpu_utilization | default "")) (toString (.for_target_cpu_utilization | default ""))) -}}
{{- if and $enabled $stale -}}
{{- fail "`derived` was computed by hpabench for another CPU request or CPU target than these values have: change knobs with `hpabench render --variant FILE --helm-values --set ...`, not helm --set" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{/* A number as Python's json.dumps writes a float (5 -> 5.0, 0.5 -> 0.5), like `hpabench render`. */}}
{{- define "hpabench.pyfloat" -}}
{{- $f := float64 . -}}
{{- if eq (floor $f) $f -}}{{ printf "%.1f" $f }}{{- else -}}{{ printf "%v" $f }}{{- end -}}
{{- end -}}
{{/* `hpabench.io/netem`: the impairment as JSON, keys sorted (deploy/render_tuning.py). */}}
{{- define "hpabench.netem" -}}
{"delay_ms": {{ include "hpabench.pyfloat" (.delay_ms | default 0) }}, "jitter_ms": {{ include "hpabench.pyfloat" (.jitter_ms | default 0) }}, "loss_pct": {{ include "hpabench.pyfloat" (.loss_pct | default 0) }}
{{- if hasKey . "rate_mbit" }}, "rate_mbit": {{ include "hpabench.pyfloat" .rate_mbit }}{{ end }}}
{{- end -}}
{{- define "hpabench.dbenv" }}
            - name: DB_HOST
              value: $(POSTGRES_SERVICE_HOST)
            - name: DB_PORT
              value: $(POSTGRES_SERVICE_PORT)
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: { name: db-credentials, key: POSTGRES_PASSWORD }
            - name: REDIS_HOST
              value: $(REDIS_SERVICE_HOST)
            - name: REDIS_PORT
              value: $(REDIS_SERVICE_PORT)
{{- end -}}
