-- A text-to-image job makes its image from params alone (a prompt): it has no input URI.
ALTER TABLE "jobs" ALTER COLUMN "input_uri" DROP NOT NULL;
