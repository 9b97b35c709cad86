{{/* Every object carries the variant's name, like `hpabench render`. */}}
{{- define "hpabench.variant" -}}
hpabench.io/variant: {{ .Values.name | quote }}
{{- end -}}
{{- define "hpabench.refuse-patches" -}}
{{- if .Values.patches -}}
{{- fail "variant patches (RFC 6902) cannot be expressed in the chart: use `hpabench render --variant FILE | kubectl apply -f -`" -}}
{{- end -}}
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
