{{/*
A new API key in Pixelmill's format (common/auth/api-key.ts): pm_live_<43 base62>_<checksum>,
where the checksum is the CRC32 of everything before it, in 6 base62 digits. The API refuses a
key whose checksum does not match, and templates have neither CRC32 nor bitwise operators, so the
CRC is computed here bit by bit (about 50 bytes: quick enough).
*/}}
{{- define "pixelmill.newApiKey" -}}
{{- $alphabet := "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" }}
{{- $body := printf "pm_live_%s" (randAlphaNum 43) }}
{{- $crc := 4294967295 | int64 }}
{{- range $i := until (len $body) }}
{{- $crc = include "pixelmill.xor32" (list $crc (index $body $i)) | int64 }}
{{- range until 8 }}
{{- if eq (mod $crc 2) 1 }}
{{- $crc = include "pixelmill.xor32" (list (div $crc 2) 3988292384) | int64 }}
{{- else }}
{{- $crc = div $crc 2 }}
{{- end }}
{{- end }}
{{- end }}
{{- $crc = sub 4294967295 $crc }}
{{- $checksum := "" }}
{{- range until 6 }}
{{- $digit := mod $crc 62 | int }}
{{- $checksum = printf "%s%s" (substr $digit (add1 $digit | int) $alphabet) $checksum }}
{{- $crc = div $crc 62 }}
{{- end }}
{{- printf "%s_%s" $body $checksum }}
{{- end }}

{{/* a XOR b, for 0 <= a, b < 2^32: (list a b). */}}
{{- define "pixelmill.xor32" -}}
{{- $a := index . 0 | int64 }}
{{- $b := index . 1 | int64 }}
{{- $result := 0 | int64 }}
{{- $bit := 1 | int64 }}
{{- range until 32 }}
{{- if ne (mod $a 2) (mod $b 2) }}{{ $result = add $result $bit }}{{ end }}
{{- $a = div $a 2 }}
{{- $b = div $b 2 }}
{{- $bit = mul $bit 2 }}
{{- end }}
{{- $result }}
{{- end }}
