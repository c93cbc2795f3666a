-- The uploaded file's name as the client sent it (the ImageJob's pixelmill.io/input-filename
-- annotation), for the console and the name of GET /v1/jobs/:id/output; null when unknown.
ALTER TABLE "jobs" ADD COLUMN "input_filename" TEXT;

-- The filename given to POST /v1/uploads, by the upload's key, until a job names the upload
-- (upload:<key>) and takes it as its own; pruned after a week (the job keeps its own copy).
CREATE TABLE "upload_filenames" (
  "key" TEXT NOT NULL PRIMARY KEY,
  "namespace" TEXT NOT NULL,
  "filename" TEXT NOT NULL,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now()
);
CREATE INDEX "upload_filenames_created_at_idx" ON "upload_filenames"("created_at");
